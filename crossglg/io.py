"""File writes that never leave half a file behind, and JSON reads whose errors name the file and line.

Every file the project writes for a user (galleries, checkpoints, descriptions, caches, engines) goes
through :func:`atomic_open`: the data lands in a temporary file beside the target, is flushed to disk
and only then renamed over it, so a crash or a full disk keeps the previous good version.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


@contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb", encoding: str | None = None) -> Iterator[IO]:
    """A temporary file beside ``path`` that replaces it on a clean exit and is removed on an error."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, encoding=encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    with atomic_open(path, "wb") as handle:
        handle.write(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    with atomic_open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    return Path(path)


def atomic_write_json(path: str | os.PathLike, payload: Any, *, sort_keys: bool = False) -> Path:
    text = json.dumps(payload, indent=2, sort_keys=sort_keys, ensure_ascii=False)
    return atomic_write_text(path, text + "\n")


def read_json_object(path: str | os.PathLike, error: type[Exception] = ValueError) -> dict[str, Any]:
    """Parse a JSON file whose top level must be an object; failures raise ``error`` naming file and line."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise error(f"{path}: invalid JSON at line {err.lineno} column {err.colno}: {err.msg}") from err
    except (OSError, UnicodeDecodeError) as err:
        raise error(f"{path}: cannot read: {err}") from err
    if not isinstance(data, dict):
        raise error(f"{path}: top level must be a JSON object")
    return data
