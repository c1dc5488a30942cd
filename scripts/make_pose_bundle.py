"""Rebuild ``resources/models/pose_landmarker_full.task`` from the mediapipe 0.10.21 wheel.

Why: mediapipe 1.2.x ships no pose model and Google's model storage is not reachable from every machine,
but the 0.10.21 wheel on PyPI carries the same two networks (Apache-2.0) for its legacy "solutions" API.
A MediaPipe Tasks bundle is an aligned, uncompressed zip of ``pose_detector.tflite`` and
``pose_landmarks_detector.tflite``; the Tasks runtime reads each network's input normalisation from
TFLite metadata, which the legacy files lack, so we add it with mediapipe's own metadata writers.

Usage::

    python scripts/make_pose_bundle.py                       # pip-downloads the wheel into a temp dir
    python scripts/make_pose_bundle.py --wheel mediapipe-0.10.21-cp311-....whl --out my.task
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import types
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "resources" / "models" / "pose_landmarker_full.task"
WHEEL_VERSION = "0.10.21"
DETECTOR_IN_WHEEL = "mediapipe/modules/pose_detection/pose_detection.tflite"
LANDMARKER_IN_WHEEL = "mediapipe/modules/pose_landmark/pose_landmark_full.tflite"
# Input normalisation the Tasks graph must apply (pixel -> (pixel - mean) / std):
# the detector expects [-1, 1], the landmark network [0, 1].
DETECTOR_NORM = (127.5, 127.5)
LANDMARKER_NORM = (0.0, 255.0)


def _provide_missing_version_module() -> list[str]:
    """mediapipe 1.2.x's metadata.py imports a compiled helper it no longer ships.

    The helper only reports the minimum metadata-parser version for the populated fields. We populate
    image-input tensors with NormalizationOptions and ImageProperties, which exist since schema 1.0.0
    (see the version history in mediapipe/tasks/metadata/metadata_schema.fbs), so "1.0.0" is exact.
    Returns the module names it registered, to be removed once mediapipe's metadata module is imported.
    """
    name = "mediapipe.tasks.cc.metadata.python._pywrap_metadata_version"
    if name in sys.modules or "mediapipe.tasks.python.metadata.metadata" in sys.modules:
        return []
    try:
        __import__(name)
        return []
    except ImportError:
        pass
    module = types.ModuleType(name)
    module.GetMinimumMetadataParserVersion = lambda _buffer: "1.0.0"
    parents = ("mediapipe.tasks.cc", "mediapipe.tasks.cc.metadata", "mediapipe.tasks.cc.metadata.python")
    added = [n for n in parents if n not in sys.modules]
    for parent in added:
        sys.modules[parent] = types.ModuleType(parent)
    sys.modules[name] = module
    return [*added, name]


def download_wheel(dest: Path) -> Path:
    """Fetch the manylinux cp311 wheel with pip (the files we need are platform independent)."""
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--python-version",
        "3.11",
        "--platform",
        "manylinux_2_28_x86_64",
        f"mediapipe=={WHEEL_VERSION}",
        "-d",
        str(dest),
    ]
    subprocess.run(cmd, check=True)
    wheels = sorted(dest.glob(f"mediapipe-{WHEEL_VERSION}-*.whl"))
    if not wheels:
        raise FileNotFoundError(f"pip download left no mediapipe-{WHEEL_VERSION} wheel in {dest}")
    return wheels[0]


def with_image_metadata(model: bytes, name: str, mean: float, std: float) -> bytes:
    """Return ``model`` with TFLite metadata naming its image input's normalisation."""
    added = _provide_missing_version_module()
    try:
        from mediapipe.tasks.python.metadata.metadata_writers import metadata_writer, writer_utils
    finally:
        for module_name in added:  # the stand-in is bound inside metadata.py; keep sys.modules clean
            sys.modules.pop(module_name, None)

    writer = metadata_writer.MetadataWriter.create(bytearray(model))
    writer.add_general_info(name, f"{name} from mediapipe {WHEEL_VERSION} (Apache-2.0)")
    writer.add_image_input(norm_mean=[mean], norm_std=[std])
    for output_name in writer_utils.get_output_tensor_names(bytearray(model)):
        writer.add_feature_output(name=output_name)
    content, _json = writer.populate()
    return bytes(content)


def build_bundle(wheel: Path, out: Path) -> str:
    from mediapipe.tasks.python.metadata.metadata_writers import model_asset_bundle_utils

    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        for member in (DETECTOR_IN_WHEEL, LANDMARKER_IN_WHEEL):
            if member not in names:
                raise FileNotFoundError(f"{wheel}: no {member} (is it the mediapipe {WHEEL_VERSION} wheel?)")
        detector = zf.read(DETECTOR_IN_WHEEL)
        landmarker = zf.read(LANDMARKER_IN_WHEEL)
    models = {
        "pose_detector.tflite": with_image_metadata(detector, "pose_detector", *DETECTOR_NORM),
        "pose_landmarks_detector.tflite": with_image_metadata(
            landmarker, "pose_landmarks_detector", *LANDMARKER_NORM
        ),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, suffix=".task.tmp")
    os.close(fd)
    try:
        # Same layout as model_asset_bundle_utils.create_model_asset_bundle, but with fixed file dates
        # so that rebuilding from the same wheel gives a byte-identical bundle.
        with model_asset_bundle_utils.AlignZipFile(tmp, mode="w", alignment=4) as zf:
            for name, content in models.items():
                zf.writestr(zipfile.ZipInfo(name, date_time=(2025, 1, 31, 0, 0, 0)), content)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the bundle is a shared, read-only resource
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return hashlib.sha256(out.read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--wheel", type=Path, help=f"a mediapipe {WHEEL_VERSION} wheel (default: pip download)"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        wheel = args.wheel or download_wheel(Path(tmp))
        digest = build_bundle(wheel, args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes, sha256 {digest})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
