"""Parse JSON that cloudcollect reads back from a store or a file (state, manifest, lease).

Such a document may be corrupt or hostile: ``json.loads`` raises RecursionError (not a
ValueError) on deep nesting such as 400 KB of ``[[[[...``, which would escape every
``except ValueError`` and end the run or the request. :func:`load_json` turns it into a
ValueError, like any other unreadable document.
"""

from __future__ import annotations

import json
from typing import Any


def load_json(data: bytes | str) -> Any:
    """``json.loads(data)``; ValueError (never RecursionError) when it cannot be parsed."""
    try:
        return json.loads(data)
    except RecursionError:
        raise ValueError("nested too deeply") from None
