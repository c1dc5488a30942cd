"""Atomic writes keep the previous file when writing fails; JSON errors name the file and line."""

from __future__ import annotations

import numpy as np
import pytest

from crossglg.io import atomic_open, atomic_write_json, read_json_object


def test_failed_write_keeps_previous_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "gallery.json"
    atomic_write_json(target, {"version": 1})
    with pytest.raises(RuntimeError):
        with atomic_open(target, "w", encoding="utf-8") as handle:
            handle.write('{"version": 2, "half')
            raise RuntimeError("disk full")
    assert read_json_object(target) == {"version": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gallery.json"]


def test_numpy_through_atomic_open_keeps_the_exact_name(tmp_path):
    target = tmp_path / "windows.npy"
    with atomic_open(target) as handle:
        np.save(handle, np.arange(6, dtype=np.float32), allow_pickle=False)
    assert np.load(target, allow_pickle=False).tolist() == [0, 1, 2, 3, 4, 5]


def test_read_json_object_names_file_line_and_column(tmp_path):
    bad = tmp_path / "config.json"
    bad.write_text('{\n  "a": 1,\n  "b": \n}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"config\.json: invalid JSON at line 4 column 1"):
        read_json_object(bad)
    bad.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(KeyError, match="top level must be a JSON object"):
        read_json_object(bad, KeyError)
