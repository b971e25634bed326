"""The environment variables cloudcollect reads, and warnings about those it does not.

One story:

- ``CLOUDCOLLECT_<OPTION>`` (``BUCKET``, ``PREFIX``, ``ENDPOINT_URL``, ``STORAGE``,
  ``ROOT``, ``WORKERS``, ``DELETE``): ``flask cloudcollect`` reads them for its options,
  as plain strings like the options themselves (``CLOUDCOLLECT_PREFIX=rel``).
- ``FLASK_CLOUDCOLLECT_<KEY>``: Flask's own namespace. The app reads them, as JSON, when
  it calls ``app.config.from_prefixed_env()``; the command reads them only through the
  app's config, so the app and the command see one value (``'"rel"'`` is ``rel`` for
  both). Flask's ``__`` nesting (``FLASK_CLOUDCOLLECT_MIME_TYPES__.x``) counts as its key.

``warnings`` names every such variable that names no setting (with the closest key), and
every one that nothing reads: a ``FLASK_CLOUDCOLLECT_*`` key the app's config does not
have (the app did not load it), a ``CLOUDCOLLECT_*`` one that is no option's variable
and not in the config. Values are never repeated: they may be secrets.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Mapping
from typing import Any

from .config import PREFIX, config_keys

FLASK_PREFIX = "FLASK_"


def warnings(
    environ: Mapping[str, str], config: Mapping[str, Any], read: Collection[str]
) -> list[str]:
    """One line per unknown or unread ``CLOUDCOLLECT_*``/``FLASK_CLOUDCOLLECT_*``
    variable of ``environ`` (sorted by name); ``config`` is the app's config and ``read``
    the variables the command reads for its options."""
    known = list(config_keys())
    found = []
    for name in sorted(environ):
        flask = name.startswith(FLASK_PREFIX + PREFIX)
        if not (flask or name.startswith(PREFIX)):
            continue
        key = name[len(FLASK_PREFIX) :].split("__")[0] if flask else name
        namespace = FLASK_PREFIX if flask else ""
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f"; did you mean {namespace}{close[0]}?" if close else ""
            found.append(f"environment variable {name} names no cloudcollect setting{hint}")
        elif flask and key not in config:
            found.append(
                f"environment variable {name} is not in the app's config: load it with "
                "app.config.from_prefixed_env() (flask cloudcollect does not read it itself)"
            )
        elif not flask and name not in read and key not in config:
            found.append(
                f"environment variable {name} is read neither by flask cloudcollect (it reads "
                f"{', '.join(sorted(read))}) nor by the app's config"
            )
    return found
