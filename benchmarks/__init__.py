"""Benchmarks: cloudcollect against aws s3 sync, s5cmd, rclone and a raw boto3 floor.

Run ``make bench`` (or ``python -m benchmarks.run --help``). Nothing here is imported by
the library or run by ``make test``.
"""
