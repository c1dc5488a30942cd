"""Settings: every field saved and loaded (JSON, atomic), each unknown or invalid field named with its
default kept, an unreadable file kept aside rather than overwritten, the old QSettings carried over."""

from __future__ import annotations

import json
from dataclasses import fields

import pytest

from demo.live import Settings, SettingsFile


def every_field_changed() -> Settings:
    return Settings(
        threshold=-0.25,
        margin=0.1,
        stride=7,
        smoothing=5,
        hold=3,
        window_seconds=3.0,
        max_age=0.25,
        min_coverage=0.4,
        absent_seconds=1.5,
        mirror=False,
    )


def test_every_field_round_trips(tmp_path):
    chosen = every_field_changed()
    assert all(getattr(chosen, f.name) != getattr(Settings(), f.name) for f in fields(Settings))
    file = SettingsFile(tmp_path / "config" / "settings.json")  # the folder is created
    assert file.load() == (Settings(), [])  # no file yet: the defaults, nothing to report
    file.save(chosen)
    assert file.load() == (chosen, [])
    assert set(json.loads(file.path.read_text())) == {f.name for f in fields(Settings)}
    assert [p.name for p in file.path.parent.iterdir()] == ["settings.json"]  # no temporary file left

    file.save(Settings())  # replaced whole
    assert file.load() == (Settings(), [])


def test_unknown_and_invalid_fields_are_named_and_keep_their_defaults(tmp_path):
    file = SettingsFile(tmp_path / "settings.json")
    file.path.write_text(
        json.dumps(
            {
                "threshold": 0.8,
                "stride": 0,
                "smoothing": 2.5,
                "mirror": "yes",
                "max_age": float("inf"),
                "margin": True,
                "min_coverage": 1.5,
                "window_seconds": 2.5,
                "colour": "red",
            }
        )
    )
    settings, problems = file.load()
    assert settings == Settings(threshold=0.8, window_seconds=2.5)
    text = "\n".join(problems)
    assert all(p.startswith(f"settings {file.path}: ") for p in problems)
    for expected in (
        "unknown setting 'colour' ignored",
        "'stride' must be a whole number from 1 to 1000, got 0: using the default 5",
        "'smoothing' must be a whole number from 1 to 100, got 2.5: using the default 3",
        "'mirror' must be true or false, got 'yes': using the default True",
        "'max_age' must be seconds above 0, at most 10, got inf",
        "'margin' must be a number from 0 to 2, got True",
        "'min_coverage' must be a fraction from 0 to 1, got 1.5",
    ):
        assert expected in text, expected
    assert len(problems) == 7


@pytest.mark.parametrize("content", ["{ not json", "[1, 2]", "\udcff"])  # the last: not UTF-8
def test_an_unreadable_file_is_kept_aside_not_overwritten(tmp_path, content):
    file = SettingsFile(tmp_path / "settings.json")
    file.path.write_bytes(content.encode("utf-8", "surrogateescape"))
    settings, problems = file.load()
    assert settings == Settings() and len(problems) == 1
    assert "unreadable" in problems[0] and "using the defaults" in problems[0]
    (kept,) = tmp_path.glob("settings.json.unreadable-*")
    assert kept.read_bytes() == content.encode("utf-8", "surrogateescape") and kept.name in problems[0]
    file.save(Settings(stride=9))
    assert file.load() == (Settings(stride=9), []) and kept.exists()


def test_settings_of_the_qsettings_version_are_carried_over(tmp_path):
    pytest.importorskip("PyQt6")
    from PyQt6.QtCore import QSettings

    from demo.app import import_legacy_settings

    old = QSettings(str(tmp_path / "old.ini"), QSettings.Format.IniFormat)
    file = SettingsFile(tmp_path / "settings.json")
    assert import_legacy_settings(file, old) is None and not file.exists()  # nothing to carry over
    old.setValue("recognition/threshold", 0.65)
    old.setValue("recognition/stride", 3)
    old.setValue("display/mirror", False)
    old.sync()
    message = import_legacy_settings(file, QSettings(str(tmp_path / "old.ini"), QSettings.Format.IniFormat))
    assert "carried over" in message
    assert file.load() == (Settings(threshold=0.65, stride=3, mirror=False), [])
