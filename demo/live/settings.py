"""The app's settings: one typed dataclass, every field saved to and loaded from one JSON file.

Loading never fails: a missing file gives the defaults, each unknown or invalid field is reported by name
and keeps its default, and a file that is not a JSON object is moved aside (``settings.json.unreadable-
<UTC time>``) rather than overwritten, so whatever the user had can still be read. Saving is atomic.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import tempfile
from dataclasses import asdict, dataclass, fields
from pathlib import Path

APP_NAME = "crossglg-live"
SETTINGS_FILE = "settings.json"


@dataclass
class Settings:
    # Operating point of the open-set rule (crossglg.openset): None is the level calibrated on validation
    # data; a number moves it (higher: more "unknown"; the Settings dialog shows what a level costs).
    threshold: float | None = None
    margin: float = 0.0  # required lead of the best class over the second (> 0: the fixed-cosine rule)
    stride: int = 5  # infer every `stride` processed frames
    smoothing: int = 3  # windows whose embeddings are averaged before deciding
    # decisions in a row a new label needs before it is shown: fewer flickering and false labels, each
    # extra one adds a stride of latency (chosen on validation streams with the model's rest examples,
    # docs/results.md "Hold and smoothing with rest examples"; 2 before them)
    hold: int = 1
    # time covered by one 60-frame window (examples are still recorded for 2 s): shorter windows name an
    # action sooner after it ends (chosen on validation streams, docs/results.md "Window length")
    window_seconds: float = 1.25
    max_age: float = 0.1  # seconds: live frames older than this are skipped or not shown
    min_coverage: float = 0.6  # fraction of the window's span that must hold a pose before deciding
    absent_seconds: float = 0.5  # "no person" when under half of this recent span holds a pose
    mirror: bool = True  # display only: show the video as a mirror (front camera); poses are unaffected

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> tuple[Settings, list[str]]:
        """Settings from a JSON object, and one message per field that was unknown or invalid."""
        settings, problems = cls(), []
        known = {f.name for f in fields(cls)}
        for key in data:
            if key not in known:
                problems.append(f"unknown setting {key!r} ignored")
        for name, (kind, check, rule) in _RULES.items():
            if name not in data:
                continue
            value = data[name]
            if value is None and name in _OPTIONAL:
                setattr(settings, name, None)
                continue
            if kind is bool:
                valid = isinstance(value, bool)
            elif kind is int:
                valid = isinstance(value, int) and not isinstance(value, bool) and check(value)
            else:
                valid = (
                    isinstance(value, int | float)
                    and not isinstance(value, bool)
                    and math.isfinite(value)
                    and check(float(value))
                )
            if valid:
                setattr(settings, name, kind(value))
            else:
                problems.append(
                    f"setting {name!r} must be {rule}, got {value!r}: "
                    f"using the default {getattr(settings, name)!r}"
                )
        return settings, problems


# name -> (type, check, rule in words); every field of Settings has a rule.
_RULES = {
    "threshold": (float, lambda v: -1.0 <= v <= 1.0, "null (calibrated) or a number from -1 to 1"),
    "margin": (float, lambda v: 0.0 <= v <= 2.0, "a number from 0 to 2"),
    "stride": (int, lambda v: 1 <= v <= 1000, "a whole number from 1 to 1000"),
    "smoothing": (int, lambda v: 1 <= v <= 100, "a whole number from 1 to 100"),
    "hold": (int, lambda v: 1 <= v <= 100, "a whole number from 1 to 100"),
    "window_seconds": (float, lambda v: 0.2 <= v <= 30.0, "seconds from 0.2 to 30"),
    "max_age": (float, lambda v: 0.0 < v <= 10.0, "seconds above 0, at most 10"),
    "min_coverage": (float, lambda v: 0.0 <= v <= 1.0, "a fraction from 0 to 1"),
    "absent_seconds": (float, lambda v: 0.0 < v <= 30.0, "seconds above 0, at most 30"),
    "mirror": (bool, lambda v: True, "true or false"),
}
_OPTIONAL = {"threshold"}  # fields whose null means "the calibrated default"
assert set(_RULES) == {f.name for f in fields(Settings)}, "every setting needs a rule"


def default_settings_path() -> Path:
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / SETTINGS_FILE


class SettingsFile:
    """Where the settings live (default: ``platformdirs.user_config_dir("crossglg-live")/settings.json``)."""

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = Path(path) if path else default_settings_path()

    def exists(self) -> bool:
        return self.path.is_file()

    def load(self) -> tuple[Settings, list[str]]:
        """(settings, messages for the user); every message names the file and, where one, the field."""
        if not self.path.exists():
            return Settings(), []
        try:
            raw = self.path.read_bytes()
        except OSError as exc:
            return Settings(), [f"cannot read the settings {self.path} ({exc}): using the defaults"]
        try:
            data = json.loads(raw.decode("utf-8"))
            if not isinstance(data, dict):
                raise ValueError(f"expected a JSON object, found {type(data).__name__}")
        except ValueError as exc:
            kept = self._move_aside()
            return Settings(), [
                f"the settings {self.path} are unreadable ({exc}): using the defaults; "
                f"the file was kept as {kept.name}"
            ]
        settings, problems = Settings.from_json(data)
        return settings, [f"settings {self.path}: {p}" for p in problems]

    def save(self, settings: Settings) -> None:
        """Atomic: a temporary file in the same folder, then ``os.replace``. Raises OSError."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(settings.to_json(), f, indent=2)
                f.write("\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _move_aside(self) -> Path:
        stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        target = self.path.with_name(f"{self.path.name}.unreadable-{stamp}")
        try:
            os.replace(self.path, target)
        except OSError:
            return self.path  # cannot move it: it stays where it is (and is only replaced by a save)
        return target
