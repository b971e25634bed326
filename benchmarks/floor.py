"""The raw boto3 floor: PutObject of every file with a thread pool, and nothing else.

No listing, no hashing, no Content-MD5, no Content-Type: the least a boto3-based tool can
do to upload a tree. Run as ``python -m benchmarks.floor DIR BUCKET PREFIX ENDPOINT``.
"""

from __future__ import annotations

import argparse
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("root", type=Path)
    parser.add_argument("bucket")
    parser.add_argument("prefix")
    parser.add_argument("endpoint")
    parser.add_argument("--workers", type=int, default=16)
    args = parser.parse_args(argv)

    import boto3
    from botocore.config import Config

    client = boto3.client(
        "s3",
        endpoint_url=args.endpoint,
        config=Config(
            max_pool_connections=args.workers,
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            s3={"addressing_style": "path"},
            retries={"mode": "standard"},
        ),
    )
    root = str(args.root)
    files = [
        os.path.join(directory, name) for directory, _, names in os.walk(root) for name in names
    ]

    def put(path: str) -> None:
        key = args.prefix + os.path.relpath(path, root).replace(os.sep, "/")
        with open(path, "rb") as body:
            client.put_object(Bucket=args.bucket, Key=key, Body=body)

    with ThreadPoolExecutor(max_workers=args.workers) as pool:
        for _ in pool.map(put, files):
            pass
    print(f"uploaded {len(files)} files", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
