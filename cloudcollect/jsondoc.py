"""Parse JSON that cloudcollect reads back from a store or a file (state, manifest, lease).

Such a document may be corrupt or hostile: ``json.loads`` raises RecursionError (not a
ValueError) on deep nesting such as 400 KB of ``[[[[...``, which would escape every
``except ValueError`` and end the run or the request. :func:`load_json` turns it into a
ValueError, like any other unreadable document.

The parser recurses in C to the interpreter's recursion limit before it gives up. A
garbage collection that ran there would call finalizers (a socket's, a temporary
directory's) with no stack left, and they would fail with RecursionError of their own;
so the cyclic garbage collector is paused while a document is parsed.
"""

from __future__ import annotations

import gc
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_lock = threading.Lock()
_parsing = 0
_collector_was_on = False


def load_json(data: bytes | str) -> Any:
    """``json.loads(data)``; ValueError (never RecursionError) when it cannot be parsed."""
    try:
        with _collector_paused():
            return json.loads(data)
    except RecursionError:
        raise ValueError("nested too deeply") from None


@contextmanager
def _collector_paused() -> Iterator[None]:
    """``gc`` off while any thread parses here; back on (if it was) after the last."""
    global _parsing, _collector_was_on
    with _lock:
        if _parsing == 0:
            _collector_was_on = gc.isenabled()
            gc.disable()
        _parsing += 1
    try:
        yield
    finally:
        with _lock:
            _parsing -= 1
            if _parsing == 0 and _collector_was_on:
                gc.enable()
