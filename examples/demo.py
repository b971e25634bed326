"""``make demo``: publish the example app to a local SeaweedFS twice, then list the bucket.

Starts SeaweedFS on loopback (telemetry off), runs ``flask cloudcollect`` on
``examples/exampleapp`` twice (the second run uploads nothing), prints what is in the
bucket and stops the server. Nothing leaves the machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.seaweed import SeaweedServer  # noqa: E402

BUCKET = "cloudcollect-demo"


def run_collect(env: dict[str, str], title: str) -> None:
    print(f"\n$ flask --app examples.exampleapp cloudcollect   # {title}", flush=True)
    flask = Path(sys.executable).parent / "flask"
    command = [str(flask), "--app", "examples.exampleapp", "cloudcollect"]
    result = subprocess.run(command, cwd=ROOT, env=env, check=False)
    if result.returncode != 0:
        raise SystemExit(f"flask cloudcollect exited {result.returncode}")


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="cloudcollect-demo-") as workdir:
        print("starting SeaweedFS on 127.0.0.1 (telemetry off)...", flush=True)
        with SeaweedServer(Path(workdir), buckets=(BUCKET,), https=False) as server:
            env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
            env |= server.env() | {
                "AWS_CONFIG_FILE": os.devnull,
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                "AWS_EC2_METADATA_DISABLED": "true",
                "CLOUDCOLLECT_BUCKET": BUCKET,
                "CLOUDCOLLECT_ENDPOINT_URL": server.endpoint,
                "CLOUDCOLLECT_ADDRESSING_STYLE": "path",
            }
            run_collect(env, "first run: uploads everything")
            run_collect(env, "second run: nothing changed, nothing uploaded")
            print(f"\nobjects in s3://{BUCKET}:")
            import boto3

            client = boto3.client(
                "s3",
                endpoint_url=server.endpoint,
                region_name="us-east-1",
                aws_access_key_id=server.env()["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=server.env()["AWS_SECRET_ACCESS_KEY"],
            )
            pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
            items = [item for page in pages for item in page.get("Contents", [])]
            vendor = [item for item in items if item["Key"].startswith("bootstrap/")]
            for item in items:
                if item not in vendor:
                    print(f"  {item['Size']:>9}  {item['Key']}")
            total = sum(item["Size"] for item in vendor)
            print(f"  {total:>9}  bootstrap/static/...  ({len(vendor)} Bootstrap-Flask files)")
            client.close()
    print("\nSeaweedFS stopped.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
