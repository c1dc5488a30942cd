"""Where things live: the packaged resources, the data root and one cache root.

Every lookup of a resource, of the data sets or of a cache goes through here, so that a source checkout,
an editable install and a wheel find the same files.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

# resources/ is shipped as this package (pyproject.toml maps the name onto the folder).
RESOURCE_PACKAGE = "crossglg_resources"
DATA_ENV = "CROSSGLG_DATA"
CACHE_ENV = "CROSSGLG_CACHE"
SOURCE_ROOT = Path(__file__).resolve().parents[1]


def resource_path(*parts: str) -> Path:
    """A file or folder of resources/ as a real path (wheels are unpacked on install, so packaged
    resources are plain files in every kind of install)."""
    return Path(str(resources.files(RESOURCE_PACKAGE))).joinpath(*parts)


def source_checkout() -> Path | None:
    """The repository root when running from a source checkout (editable install), else None."""
    return SOURCE_ROOT if (SOURCE_ROOT / "pyproject.toml").is_file() else None


def data_root() -> Path:
    """The real data sets: ``$CROSSGLG_DATA``, else ``../shared/data`` beside the checkout (or the
    working directory, for an installed copy)."""
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV])
    return (source_checkout() or Path.cwd()).parent / "shared" / "data"


def cache_root(kind: str = "") -> Path:
    """``$CROSSGLG_CACHE``, else the per-user cache folder (~/.cache/crossglg on Linux); ``kind`` names
    the sub-folder of one cache (windows, msrc12, text, engines)."""
    if os.environ.get(CACHE_ENV):
        root = Path(os.environ[CACHE_ENV])
    else:
        from platformdirs import user_cache_dir

        root = Path(user_cache_dir("crossglg"))
    return root / kind if kind else root
