"""A quiet console: MediaPipe's native log noise is filtered unless the user asks for it (``-v``).

MediaPipe 1.2 (LiteRT, glog, absl inside one C++ library) writes INFO and WARNING lines straight to the
C-level stderr ("Sparsity tensors may not yet be fully supported" dozens of times, accelerator
registration, "Logging before InitGoogle()", ...) and honours none of GLOG_minloglevel,
TF_CPP_MIN_LOG_LEVEL or GOOGLE_STDERRTHRESHOLD (checked; they are still set, for builds that do).
So around the few native calls that log (creating the landmarker, its first frames, closing it) file
descriptor 2 is pointed at a temporary file, and afterwards every line that is not known noise is
written back: errors from MediaPipe and anything else printed meanwhile still reach the user.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import tempfile
import threading
from collections.abc import Iterator

log = logging.getLogger(__name__)

# LiteRT "INFO: ..." / "WARNING: [file.cc:N] ...", glog/absl "I0000 ..." / "W0000 ..." lines, absl's
# "Logging before InitGoogle()" notice, TFLite's delegate notice. Errors (E/F lines, "ERROR:") are kept.
NOISE = re.compile(
    r"^(INFO: |WARNING: \[|WARNING: Logging before InitGoogle\(\)|[IW]\d{4} [\d:.]+\s+\d+ [\w./-]+:\d+\] )"
)
QUIET_ENVIRONMENT = {"GLOG_minloglevel": "2", "TF_CPP_MIN_LOG_LEVEL": "2", "GOOGLE_STDERRTHRESHOLD": "2"}

_verbose = False
_lock = threading.RLock()
_depth = 0
_state: dict = {}  # while filtering: the capture file and the saved fd 2


def configure(verbose: bool) -> None:
    """Call before MediaPipe loads: ``verbose`` shows the native logs untouched, else they are filtered."""
    global _verbose
    _verbose = verbose
    if verbose:
        return
    for key, value in QUIET_ENVIRONMENT.items():
        os.environ.setdefault(key, value)
    with contextlib.suppress(ImportError):
        import absl.logging

        absl.logging.set_verbosity(absl.logging.ERROR)


def is_verbose() -> bool:
    return _verbose


@contextlib.contextmanager
def quiet_native() -> Iterator[None]:
    """Filter the native noise written to fd 2 inside the block (nothing else is lost; see the module doc).

    Process-wide while it lasts, so it wraps only short native calls; nested and concurrent uses share
    one redirection.
    """
    global _depth
    if _verbose:
        yield
        return
    with _lock:
        _depth += 1
        if _depth == 1:
            try:
                sys.stderr.flush()
                capture = tempfile.TemporaryFile()
                saved = os.dup(2)
                os.dup2(capture.fileno(), 2)
                _state.update(capture=capture, saved=saved)
            except OSError as exc:  # no usable fd 2 (e.g. a GUI launcher): nothing to filter
                log.debug("native stderr not filtered: %s", exc)
                _state.clear()
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _state:
                _restore()


def _restore() -> None:
    capture, saved = _state.pop("capture"), _state.pop("saved")
    with contextlib.suppress(ValueError, OSError):
        sys.stderr.flush()
    os.dup2(saved, 2)
    os.close(saved)
    capture.seek(0)
    text = capture.read().decode("utf-8", "replace")
    capture.close()
    lines = text.splitlines(keepends=True)
    kept = [line for line in lines if not NOISE.match(line)]
    if len(kept) < len(lines):
        log.debug("filtered %d lines of native log noise (-v shows them)", len(lines) - len(kept))
    if kept:
        os.write(2, "".join(kept).encode("utf-8"))
