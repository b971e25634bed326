"""Plug-in: Subresource Integrity digests in the fingerprint manifest (on with
``CLOUDCOLLECT_FINGERPRINT``; ``static_integrity`` in ``cloudcollect.integrity`` reads them).

``remote`` (after fingerprinting's, which read the current manifest): each published
path's digest (``sha384-<base64>``) of its hashed object's bytes before any content coding
(a rewritten stylesheet's rewritten bytes; with in-place precompression the uncompressed
ones). A digest the current manifest records for the same hashed name (content-addressed)
is taken from it; the others are read from the local bytes. A path whose hashed name is
its own (kept plain) is always read: its bytes can change under the same name.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ..fingerprint.manifest import Manifest, file_integrity
from ..remote import RemoteView
from ..run import Plugin, RunContext
from .fingerprinting import Fingerprinting


class SubresourceIntegrity(Plugin):
    def __init__(self, fingerprinting: Fingerprinting) -> None:
        self.fingerprinting = fingerprinting

    def remote(self, run: RunContext, remote: RemoteView) -> RemoteView:
        release = self.fingerprinting.release
        assert release is not None
        release.record_integrity(digests(release.files, release.sources, release.current))
        return remote


def digests(
    files: Mapping[str, str], sources: Mapping[str, Path], current: Manifest | None
) -> dict[str, str]:
    """Path -> the SRI digest of its hashed object (``files``: path -> hashed path;
    ``sources``: path -> the local bytes of its hashed object); see the module docstring."""
    known = current.integrity if current is not None else {}
    old = current.files if current is not None else {}
    return {
        path: known[path]
        if path in known and old.get(path) == hashed and hashed != path
        else file_integrity(sources[path])
        for path, hashed in files.items()
    }
