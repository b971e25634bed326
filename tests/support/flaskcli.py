"""The installed ``flask`` command as a subprocess: ``flask --app <module> cloudcollect``
on an app module written into a folder, with the repository and that folder on
PYTHONPATH (so the module can import ``tests.support.apps``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FLASK = Path(sys.executable).parent / "flask"
#: An app from tests/support/apps.py whose config is the JSON of ``TEST_APP_CONFIG``.
CONFIG_APP = """
import json, os
from pathlib import Path
from tests.support.apps import make_app
app = make_app(Path(__file__).parent / "tree", json.loads(os.environ.get("TEST_APP_CONFIG", "{}")))
"""


def flask_command(
    folder: Path, module: str, source: str, args: Sequence[str], environ: Mapping[str, str]
) -> tuple[list[str], dict[str, str]]:
    """Write ``source`` as ``folder/<module>.py``; return the command line of ``flask --app
    <module> cloudcollect ARGS`` and ``environ`` with PYTHONPATH set (run it in ``folder``)."""
    (folder / f"{module}.py").write_text(source)
    env = {**environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{folder}"}
    return [str(FLASK), "--app", module, "cloudcollect", *args], env


def run_flask_module(
    folder: Path, module: str, source: str, args: Sequence[str], environ: Mapping[str, str]
) -> subprocess.CompletedProcess[str]:
    """Run ``flask_command``'s command in ``folder`` to its end (a 120 s hang guard);
    stdout and stderr are captured as text."""
    command, env = flask_command(folder, module, source, args, environ)
    return subprocess.run(
        command, cwd=folder, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def run_flask(
    tmp_path: Path,
    args: Sequence[str],
    config: Mapping[str, object],
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``flask --app cliapp cloudcollect ARGS`` on CONFIG_APP (its files under
    ``tmp_path/tree``) with ``config`` as the app's config and ``env`` added to ours."""
    environ = {**os.environ, **(env or {}), "TEST_APP_CONFIG": json.dumps(config)}
    return run_flask_module(tmp_path, "cliapp", CONFIG_APP, args, environ)
