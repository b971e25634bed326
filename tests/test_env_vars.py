"""One story for environment variables (cloudcollect.envvars): ``FLASK_CLOUDCOLLECT_*`` is
the app's config (JSON, through ``from_prefixed_env``) and the command sees the same
value; ``CLOUDCOLLECT_<OPTION>`` is read by the command as a plain string; a variable
that names no setting, or that nothing reads, is a warning naming the closest key.

Each case runs as a real ``flask --app ... cloudcollect`` subprocess, and in process
with the test CLI runner under the automatic ``FLASK_CLOUDCOLLECT`` prefix that ``flask``
gives the command.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import Result
from flask import Config

from cloudcollect.cli import cloudcollect_command
from cloudcollect.envvars import warnings
from tests.support.apps import make_app
from tests.support.flaskcli import run_flask_module

APP_MODULE = """
import os
from pathlib import Path
from flask import Config
from tests.support.apps import make_app
from tests.support.flaskcli import run_flask_module
config = Config(str(Path(__file__).parent))
if os.environ.get("TEST_FROM_PREFIXED_ENV") == "1":
    config.from_prefixed_env()
app = make_app(Path(__file__).parent / "tree", dict(config))
"""


def flask_subprocess(tmp_path: Path, env: dict[str, str], from_env: bool) -> tuple[int, str]:
    environ = {k: v for k, v in os.environ.items() if "CLOUDCOLLECT" not in k}
    environ |= env | {"TEST_FROM_PREFIXED_ENV": "1" if from_env else "0"}
    done = run_flask_module(tmp_path, "envapp", APP_MODULE, [], environ)
    return done.returncode, done.stderr


def flask_runner(
    tmp_path: Path, env: dict[str, str], from_env: bool, monkeypatch: pytest.MonkeyPatch
) -> tuple[int, str]:
    for name in [n for n in os.environ if "CLOUDCOLLECT" in n]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    config = Config(str(tmp_path))
    if from_env:
        config.from_prefixed_env()
    app = make_app(tmp_path / "tree", dict(config))
    # `flask cloudcollect` runs the command with click's automatic prefix FLASK_CLOUDCOLLECT.
    result: Result = app.test_cli_runner().invoke(
        cloudcollect_command, [], auto_envvar_prefix="FLASK_CLOUDCOLLECT"
    )
    return result.exit_code, result.stderr


RUNNERS = ("subprocess", "runner")


def run(
    how: str, tmp_path: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch, from_env: bool
) -> tuple[int, str]:
    if how == "subprocess":
        return flask_subprocess(tmp_path, env, from_env)
    return flask_runner(tmp_path, env, from_env, monkeypatch)


def filesystem(target: Path, namespace: str) -> dict[str, str]:
    """Variables that send the run to the filesystem storage at ``target``."""
    if namespace == "FLASK_":
        return {
            "FLASK_CLOUDCOLLECT_STORAGE": '"filesystem"',
            "FLASK_CLOUDCOLLECT_ROOT": json.dumps(str(target)),
        }
    return {"CLOUDCOLLECT_STORAGE": "filesystem", "CLOUDCOLLECT_ROOT": str(target)}


def published(target: Path) -> set[str]:
    return {p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()}


@pytest.mark.parametrize("how", RUNNERS)
def test_a_json_prefix_means_the_same_to_the_app_and_the_command(
    how: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out"
    env = filesystem(target, "FLASK_") | {
        "FLASK_CLOUDCOLLECT_PREFIX": '"rel"',
        "FLASK_CLOUDCOLLECT_WORKERS": "3",
    }
    code, stderr = run(how, tmp_path, env, monkeypatch, from_env=True)
    assert code == 0, stderr
    assert "warning" not in stderr
    keys = published(target)
    assert "rel/static/css/site.css" in keys
    assert all(key.startswith("rel/") for key in keys), sorted(keys)


@pytest.mark.parametrize("how", RUNNERS)
def test_the_commands_own_variables_are_plain_strings(
    how: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out"
    env = filesystem(target, "") | {"CLOUDCOLLECT_PREFIX": "rel", "CLOUDCOLLECT_WORKERS": "2"}
    code, stderr = run(how, tmp_path, env, monkeypatch, from_env=False)
    assert code == 0, stderr
    assert "warning" not in stderr
    assert "rel/static/css/site.css" in published(target)


@pytest.mark.parametrize("how", RUNNERS)
def test_a_flask_variable_the_app_did_not_load_is_not_read_and_says_so(
    how: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out"
    env = filesystem(target, "") | {"FLASK_CLOUDCOLLECT_PREFIX": '"rel"'}
    code, stderr = run(how, tmp_path, env, monkeypatch, from_env=False)
    assert code == 0, stderr
    assert (
        "warning: environment variable FLASK_CLOUDCOLLECT_PREFIX is not in the app's config: "
        "load it with app.config.from_prefixed_env()"
    ) in stderr
    assert "static/css/site.css" in published(target)


@pytest.mark.parametrize("how", RUNNERS)
def test_a_misspelt_variable_is_a_warning_naming_the_closest_key(
    how: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {"CLOUDCOLLECT_BUKET": "secret-bucket-name", "FLASK_CLOUDCOLLECT_PERFIX": '"x"'}
    code, stderr = run(how, tmp_path, env, monkeypatch, from_env=False)
    assert code == 2  # no bucket: the misspelt variable set nothing
    assert (
        "warning: environment variable CLOUDCOLLECT_BUKET names no cloudcollect setting; "
        "did you mean CLOUDCOLLECT_BUCKET?"
    ) in stderr
    assert "FLASK_CLOUDCOLLECT_PERFIX names no cloudcollect setting; did you mean " in stderr
    assert "FLASK_CLOUDCOLLECT_PREFIX?" in stderr
    assert "secret-bucket-name" not in stderr


def test_warnings_cover_unread_settings_and_flask_nesting() -> None:
    environ = {
        "CLOUDCOLLECT_REGION": "eu-west-1",
        "CLOUDCOLLECT_BUCKET": "b",
        "CLOUDCOLLECT_CACHE_CONTROL": "no-cache",
        "FLASK_CLOUDCOLLECT_MIME_TYPES__.x": '"text/x"',
        "FLASK_CLOUDCOLLECT_GRACE_SECOND__a": "1",
        "FLASK_APP": "x",
        "OTHER": "y",
    }
    config = {"CLOUDCOLLECT_CACHE_CONTROL": "no-cache", "CLOUDCOLLECT_MIME_TYPES": {}}
    assert warnings(environ, config, {"CLOUDCOLLECT_BUCKET"}) == [
        "environment variable CLOUDCOLLECT_REGION is read neither by flask cloudcollect "
        "(it reads CLOUDCOLLECT_BUCKET) nor by the app's config",
        "environment variable FLASK_CLOUDCOLLECT_GRACE_SECOND__a names no cloudcollect "
        "setting; did you mean FLASK_CLOUDCOLLECT_GRACE_SECONDS?",
    ]
