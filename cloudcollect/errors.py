"""Errors raised by cloudcollect; each knows the exit code the CLI turns it into.

::

    CloudCollectError                 exit 1  base class
    ├── ConfigError                   exit 2  bad or unknown CLOUDCOLLECT_* setting, bad option
    ├── InvalidKeyError               exit 1  a file name that cannot become a safe object key
    │                                         (reported as that file's failure; the rest go on)
    ├── StorageError                  exit 1  a request failed after retries (key, code, id)
    │   └── FatalStorageError         exit 3  nothing more can succeed: bucket missing,
    │                                         credentials, access denied, ACL rejected
    ├── FingerprintError              exit 2  a missing reference or a reference cycle
    │                                         (strict), a file missing from the manifest
    ├── DeletionRefused               exit 4  a safety guard refused to delete
    └── Interrupted                   130/143 SIGINT / SIGTERM

Messages name the bucket, key, error code and request id; never credentials or headers:
every message is scrubbed (``redact.scrub``) when the error is built, so the text of an
HTTP layer's exception quoted in it loses credentials and URL userinfo too.
"""

from __future__ import annotations

from .redact import scrub


class CloudCollectError(Exception):
    """Base class of every error cloudcollect raises on purpose; its message is scrubbed."""

    exit_code = 1

    def __init__(self, message: str = "") -> None:
        super().__init__(scrub(str(message)))


class ConfigError(CloudCollectError):
    """A setting or option is unknown, of the wrong type or inconsistent."""

    exit_code = 2

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


class InvalidKeyError(CloudCollectError):
    """A path cannot be turned into a safe object key (``..``, ``\\``, too long...)."""

    exit_code = 1

    def __init__(self, message: str, *, path: str) -> None:
        super().__init__(message)
        self.path = path


class StorageError(CloudCollectError):
    """A storage request failed; ``code`` is the service's error code when there is one."""

    exit_code = 1

    def __init__(
        self,
        message: str,
        *,
        key: str | None = None,
        code: str | None = None,
        request_id: str | None = None,
        retries: int = 0,
    ) -> None:
        super().__init__(message)
        self.key = key
        self.code = code
        self.request_id = request_id
        self.retries = retries


class FatalStorageError(StorageError):
    """A failure that no other request can get past (missing bucket, bad credentials...)."""

    exit_code = 3


class FingerprintError(CloudCollectError):
    """Fingerprinting cannot go on: a stylesheet or script refers to a file that is not
    published (strict mode), references form a cycle, or a URL is asked for a file that
    the manifest does not list (strict mode). ``path`` names the file concerned."""

    exit_code = 2

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class DeletionRefused(CloudCollectError):
    """A safety guard refused to delete (empty source set, missing folder, max-delete)."""

    exit_code = 4


class Interrupted(CloudCollectError):
    """The run was stopped by a signal; ``exit_code`` is 128 + the signal number."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"interrupted by signal {signum}")
        self.signum = signum
        self.exit_code = 128 + signum
