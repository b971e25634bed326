"""``flask cloudcollect releases`` and ``flask cloudcollect rollback [RELEASE]``.

Both need ``CLOUDCOLLECT_FINGERPRINT`` (releases are manifests); the work is in
``cloudcollect.releases``. Exit codes: 0 done (or nothing to do); 2 fingerprinting off or
a bad setting; 3 the rollback was refused (unknown release, files missing), another run
holds the release lease, or a fatal storage error; 1 another failed request.
"""

from __future__ import annotations

import json

import click
from flask import Flask

from .clicommon import command_app, echo, exit_with
from .config import Settings
from .errors import CloudCollectError


def _fingerprinted(ctx: click.Context) -> tuple[Flask, Settings]:
    app, settings = command_app(ctx)
    if not settings.fingerprint:
        raise click.UsageError(
            "releases exist only with CLOUDCOLLECT_FINGERPRINT = True (each publish then "
            "stores a manifest per release)"
        )
    return app, settings


def _roots(app: Flask, settings: Settings) -> list[str]:
    """Where the app's keys live (``remote.listing_roots``): what a rollback lists."""
    from .remote import listing_roots
    from .sources import static_sources

    return listing_roots(static_sources(app), settings.prefix)


@click.command("releases")
@click.option("--json", "as_json", is_flag=True, help="Print the releases as JSON on stdout.")
@click.pass_context
def releases_command(ctx: click.Context, as_json: bool) -> None:
    """List the kept releases, newest first; '*' marks the current one.

    Each line: release id, time, number of files, and the commit it was built from when
    the publishing environment named one.
    """
    from .releases import list_releases
    from .storage import open_storage

    _, settings = _fingerprinted(ctx)
    try:
        storage = open_storage(settings)
        try:
            found = list_releases(storage, settings.prefix)
        finally:
            storage.close()
    except CloudCollectError as error:
        exit_with(error)
    for problem in found.problems:
        echo(f"warning: {problem}", err=True)
    rows = [
        {
            "release": m.release,
            "created": m.created,
            "files": len(m.files),
            "commit": m.commit,
            "current": m.release == found.current,
        }
        for m in found.kept
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        mark = "*" if row["current"] else " "
        commit = row["commit"] or "-"
        echo(f"{mark} {row['release']}  {row['created']}  {row['files']} files  {commit}")
    if not rows:
        echo("no kept release: publish with CLOUDCOLLECT_FINGERPRINT first", err=True)


@click.command("rollback")
@click.argument("release", required=False)
@click.option("--dry-run", is_flag=True, help="Check and print what would happen; write nothing.")
@click.pass_context
def rollback_command(ctx: click.Context, release: str | None, dry_run: bool) -> None:
    """Make a kept RELEASE current again (default: the one before the current one).

    Checks first that every file the release names is stored, then takes the release
    lease as a publish does and writes the release's manifest as the current one. The
    next 'flask cloudcollect' publishes the local files as a new release.
    """
    from .fingerprint.manifest import local_manifest_path
    from .releases import rollback
    from .storage import open_storage
    from .urls import reload_manifest

    app, settings = _fingerprinted(ctx)
    local = local_manifest_path(settings.manifest_path, app.instance_path)
    try:
        storage = open_storage(settings)
        try:
            roots = _roots(app, settings)
            done = rollback(storage, settings.prefix, release, local, dry_run=dry_run, roots=roots)
        finally:
            storage.close()
    except CloudCollectError as error:
        exit_with(error)
    target = done.target
    what = f"release {target.release} ({len(target.files)} files, all stored)"
    if target.release == done.previous:
        echo(f"{what} is current already: nothing written", err=True)
    elif not done.written:
        echo(f"dry run: would make {what} current (now {done.previous}); nothing written", err=True)
    else:
        reload_manifest(app)
        echo(f"rolled back: {what} is current (was {done.previous})", err=True)
