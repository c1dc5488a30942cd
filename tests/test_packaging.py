"""The project installs as a wheel that works outside the source tree (issue 16: packaged resources)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE_ROOTS = ("crossglg", "demo", "engines", "train")


def test_every_package_and_resource_folder_is_listed():
    setup = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(setup["packages"])
    code = {
        ".".join(p.parent.relative_to(REPO).parts)
        for root in PACKAGE_ROOTS
        for pattern in ("*.py", "*.toml")
        for p in (REPO / root).rglob(pattern)
        if "__pycache__" not in p.parts and "cache" not in p.parts
    }
    resource_root = REPO / setup["package-dir"]["crossglg_resources"]
    resources = {
        ".".join(("crossglg_resources", *p.relative_to(resource_root).parts))
        for p in resource_root.rglob("*")
        if p.is_dir() and "__pycache__" not in p.parts
    }
    assert code | resources | {"crossglg_resources"} == listed


def test_resources_resolve_through_the_package():
    from crossglg.checkpoint import MODELS_DIR
    from crossglg.paths import resource_path

    assert (resource_path("classes") / "msrc12.tsv").is_file()
    assert (
        MODELS_DIR == resource_path("models") and (MODELS_DIR / "crossglg_default" / "config.json").is_file()
    )


@pytest.mark.slow
def test_wheel_installs_and_recognises_a_real_clip(tmp_path, data_root):
    """Builds the wheel, installs it (without dependencies) into a fresh virtual environment that borrows
    only the third-party packages of this one, and runs crossglg-recognize from a folder far from the
    checkout: the model, the pose bundle, the class lists and the starter gallery must come from the
    wheel."""
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(REPO)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (wheel,) = wheels.glob("crossglg_live-*.whl")
    env_dir = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True, timeout=120)
    python = env_dir / "bin" / "python"
    site = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    # Lines of a .pth are added to sys.path without running the .pth files found there, so this venv's
    # editable install of the checkout stays invisible to the new environment.
    (site / "borrowed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", str(wheel)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    where = subprocess.run(
        [
            python,
            "-c",
            "import crossglg, crossglg_resources; print(crossglg.__file__); "
            "print(crossglg_resources.__file__)",
        ],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    ).stdout.split()
    assert all(Path(p).is_relative_to(site) for p in where), where
    run = tmp_path / "elsewhere"
    run.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["CROSSGLG_CACHE"] = str(tmp_path / "cache")
    out = subprocess.run(
        [
            env_dir / "bin" / "crossglg-recognize",
            "--source",
            str(data_root / "videos" / "tai_chi.mp4"),
            "--max-frames",
            "90",
        ],
        capture_output=True,
        text=True,
        cwd=run,
        env=env,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    lines = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    assert lines and all({"time", "label", "score"} <= set(line) for line in lines)
    assert any(line["top"] for line in lines)  # the starter gallery came from the wheel
