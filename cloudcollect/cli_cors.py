"""``flask cloudcollect cors [--dry-run]``: the bucket CORS rule fonts and module scripts need.

The only command that changes a bucket's CORS configuration. It reads the configuration,
keeps every rule, adds or extends the ``cloudcollect`` rule for the origins of
``CLOUDCOLLECT_CORS_ORIGINS`` (``cors.merged``) and writes the result, only when it
differs; it prints the merged configuration (JSON, the shape ``aws s3api put-bucket-cors``
takes) on stdout and what a CDN in front of the bucket must forward on stderr.

Exit codes: 0 written or nothing to write; 2 no origin configured, a bad setting, or a
merged configuration over S3's limits (100 rules, 64 KB; checked by a dry run too); 3 the
store does not support bucket CORS, or access denied; 1 another failed request.
"""

from __future__ import annotations

import json

import click

from .clicommon import command_app, echo, exit_with
from .config import Settings
from .cors import RULE_ID, CorsRule, describe, merged, read_rules, write_rules
from .errors import CloudCollectError

#: What a CDN in front of the bucket must do for CORS answers to reach the browser.
CDN_SETTINGS = (
    "a CDN in front of the bucket must forward the Origin header and cache per Origin:",
    "  CloudFront: origin request policy CORS-S3Origin (forwards Origin and the",
    "    Access-Control-Request-* headers), a cache policy whose cache key includes the",
    "    Origin header, and GET, HEAD, OPTIONS as allowed (and cached) methods;",
    "  other CDNs: pass Origin to the bucket and keep Vary: Origin, or a cached answer",
    "    without Access-Control-Allow-Origin is served to every origin.",
)


@click.command("cors")
@click.option("--dry-run", is_flag=True, help="Print the merged configuration; write nothing.")
@click.pass_context
def cors_command(ctx: click.Context, dry_run: bool) -> None:
    """Let CLOUDCOLLECT_CORS_ORIGINS load fonts and module scripts from the bucket.

    Adds (or extends) one bucket CORS rule, ID 'cloudcollect': GET and HEAD from those
    origins. Every other rule is kept. Nothing is written when the rules already allow
    them. Prints the merged configuration, and the CDN settings that must forward Origin.
    """
    _, settings = command_app(ctx)
    if not settings.cors_origins:
        raise click.UsageError(
            "CLOUDCOLLECT_CORS_ORIGINS is not set: list the origins of the pages that "
            "load the bucket's fonts and module scripts, e.g. ['https://app.example']"
        )
    if "*" in settings.cors_origins:
        echo("warning: origin '*' lets every site load these files", err=True)
    try:
        _apply(settings, dry_run)
    except CloudCollectError as error:
        exit_with(error)
    for line in CDN_SETTINGS:
        echo(line, err=True)


def _apply(settings: Settings, dry_run: bool) -> None:
    from .storage import open_storage
    from .storage.s3cors import check_limits

    storage = open_storage(settings)
    try:
        rules = read_rules(storage)
        new = merged(rules, settings.cors_origins)
        if new is None:
            _print_rules(rules)
            echo("bucket CORS already allows these origins: nothing written", err=True)
            return
        check_limits(new)
        _print_rules(new)
        if dry_run:
            echo(f"dry run: rule {RULE_ID!r} not written", err=True)
            return
        write_rules(storage, new)
        echo(f"bucket CORS rule {RULE_ID!r} written; {len(new) - 1} other rules kept", err=True)
    finally:
        storage.close()


def _print_rules(rules: list[CorsRule]) -> None:
    """The configuration as JSON on stdout, one line per rule on stderr."""
    from .storage.s3cors import document

    click.echo(json.dumps(document(rules), indent=2))
    for rule in rules:
        echo(f"  {describe(rule)}", err=True)
