"""Shared fixtures: the real data folder (../shared/data beside the repo) and offscreen Qt."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

from crossglg.paths import data_root as data_root_path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parents[1]
DATA_ROOT = data_root_path()


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The real data sets; tests that need them skip where the folder is absent (a clone elsewhere)."""
    if not (DATA_ROOT / "README.md").is_file():
        pytest.skip(f"real data not found at {DATA_ROOT} (set CROSSGLG_DATA)")
    return DATA_ROOT


@pytest.fixture
def load_benchmark(monkeypatch):
    """A script under benchmarks/ as a module, to test its parts (the scripts are not a package)."""

    def load(name: str):
        spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        monkeypatch.setitem(sys.modules, name, module)  # its dataclasses look their module up
        spec.loader.exec_module(module)
        return module

    return load
