"""Pose bundle, pose estimation on real clips, main-person choice, and MediaPipe -> NTU-25 vs Kinect."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
from test_demo_support import clip_poses, tai_chi_poses

from demo.pose import DEFAULT_POSE_MODEL, NUM_LANDMARKS, MainPersonTracker, Pose, PoseEstimator


def test_bundle_is_a_tasks_bundle_with_normalisation_metadata():
    with zipfile.ZipFile(DEFAULT_POSE_MODEL) as zf:
        names = set(zf.namelist())
        assert names == {"pose_detector.tflite", "pose_landmarks_detector.tflite"}
        for info in zf.infolist():
            assert info.compress_type == zipfile.ZIP_STORED  # the Tasks runtime mmaps the members
        from mediapipe.tasks.metadata import metadata_schema_py_generated as md
        from mediapipe.tasks.metadata import schema_py_generated as schema

        expected = {"pose_detector.tflite": (127.5, 127.5), "pose_landmarks_detector.tflite": (0.0, 255.0)}
        for member, (mean, std) in expected.items():
            buf = zf.read(member)
            model = schema.Model.GetRootAsModel(buf, 0)
            meta = [model.Metadata(i) for i in range(model.MetadataLength())]
            entry = next(m for m in meta if m.Name() == b"TFLITE_METADATA")
            metadata = md.ModelMetadata.GetRootAsModelMetadata(model.Buffers(entry.Buffer()).DataAsNumpy(), 0)
            unit = metadata.SubgraphMetadata(0).InputTensorMetadata(0).ProcessUnits(0)
            norm = md.NormalizationOptions()
            norm.Init(unit.Options().Bytes, unit.Options().Pos)
            assert norm.MeanAsNumpy().tolist() == [mean] and norm.StdAsNumpy().tolist() == [std]


def test_bundle_tracks_the_tai_chi_person(data_root):
    times, poses, _ = tai_chi_poses(data_root)
    assert len(times) == 100
    assert sum(p is not None for p in poses) == 100
    pose = poses[30]
    # World landmarks: metres around the hip centre, y down. Frame 30 is a deep, leaning stance: the nose
    # is still above the hips (negative y) and the ankles well below them.
    hips = pose.world[[23, 24]].mean(axis=0)
    assert np.linalg.norm(hips) < 0.1
    assert pose.world[0, 1] < hips[1] - 0.1
    assert pose.world[[27, 28], 1].min() > hips[1] + 0.4
    assert 0.2 < pose.image[:, :2].mean() < 0.8


def test_timestamps_stay_increasing_across_source_switches(data_root):
    """VIDEO mode refuses a timestamp that goes back; each new source restarts its clock at 0."""
    from demo.capture import VideoSource

    with PoseEstimator() as estimator:
        for clip in ("tai_chi.mp4", "clean_and_jerk.mp4", "tai_chi.mp4"):
            source = VideoSource(data_root / "videos" / clip)
            estimator.new_source()
            for _ in range(3):
                frame = source.read()
                assert estimator.process(frame.image, frame.timestamp).main is not None
            source.close()


def test_bad_pose_model_is_reported(tmp_path):
    with pytest.raises(FileNotFoundError, match="pose model not found"):
        PoseEstimator(tmp_path / "missing.task")
    junk = tmp_path / "junk.task"
    junk.write_bytes(b"not a bundle")
    with pytest.raises(ValueError, match="not a usable MediaPipe pose landmarker bundle"):
        PoseEstimator(junk)


def _shifted(pose: Pose, dx: float) -> Pose:
    image = pose.image.copy()
    image[:, 0] += dx
    return Pose(world=pose.world, image=image, visibility=pose.visibility)


def test_main_person_stays_the_same_when_a_second_person_appears(data_root):
    _, poses, _ = tai_chi_poses(data_root)
    tracker = MainPersonTracker()
    first = poses[0]
    assert tracker.choose([first], 0.0) == 0
    # A second (real, shifted) body appears to the right and is listed first: the main one keeps its index.
    for k in range(1, 10):
        t = k / 30
        walker = _shifted(poses[k], 0.35 - 0.01 * k)
        assert tracker.choose([walker, poses[k]], t) == 1
    # After the main person has been gone longer than forget_after, the largest torso wins again.
    big = Pose(world=first.world, image=(first.image - 0.5) * 1.5 + 0.5, visibility=first.visibility)
    assert tracker.choose([first, big], 5.0) == 1


def test_mediapipe_to_ntu25_agrees_with_the_kinect_skeleton(data_root):
    """The NTU drink-water clip seen by MediaPipe (through the layout layer) vs its own Kinect skeleton.

    The NTU RGB video is the Kinect v2 colour stream, which is mirrored: in the .skeleton file a joint's
    colorX grows with its camera-space x (Kinect x grows to the sensor's left, so an unmirrored image would
    show the opposite). MediaPipe labels sides as seen, so the frames are flipped back first; a webcam
    frame is not mirrored and needs no flip. Tolerance: MediaPipe and Kinect place joints differently
    (BlazePose hips sit wider and lower, depth is estimated from one camera), so positions in the canonical
    frame agree to 0.15 m (mean over frames) on the reliably seen joints; the cup hand must be NTU's right.
    """
    from crossglg.data import read_file
    from crossglg.skeleton import NTU25, make_window
    from demo.live import mediapipe_window

    kinect = read_file(data_root / "ntu" / "S001C001P001R001A001.skeleton")
    raw = np.loadtxt(data_root / "ntu" / "S001C001P001R001A001.skeleton", skiprows=4, max_rows=25)
    cam_x, color_x = raw[:, 0], raw[:, 5]
    assert np.corrcoef(cam_x, color_x)[0, 1] > 0.9  # the colour stream is mirrored

    times, poses, _ = clip_poses(str(data_root / "videos" / "S001C001P001R001A001_rgb.avi"), 0, True)
    assert sum(p is not None for p in poses) == len(times) == 103
    nan = np.full((NUM_LANDMARKS, 3), np.nan, np.float32)
    mp = mediapipe_window(np.stack([p.world if p is not None else nan for p in poses]), times)
    kn = make_window(kinect)
    a, b = mp[..., 0].transpose(1, 2, 0), kn[..., 0].transpose(1, 2, 0)  # (T, 25, 3)

    # Left/right: the cup goes up in NTU's right wrist; MediaPipe's right wrist must follow it.
    rw, lw = NTU25.index("right wrist"), NTU25.index("left wrist")
    assert np.corrcoef(a[:, rw, 1], b[:, rw, 1])[0, 1] > 0.8
    assert a[:, rw, 1].max() - a[:, rw, 1].min() > 0.25  # the drinking hand rises by > 25 cm
    assert a[:, rw, 1].max() > a[:, lw, 1].max() + 0.15
    # The body's left is +x in the canonical frame for both.
    for side, sign in (("left", 1), ("right", -1)):
        for part in ("shoulder", "hip", "elbow"):
            j = NTU25.index(f"{side} {part}")
            assert sign * a[:, j, 0].mean() > 0 and sign * b[:, j, 0].mean() > 0, (side, part)

    checked = [
        "spine base",
        "spine mid",
        "spine shoulder",
        "left shoulder",
        "right shoulder",
        "left elbow",
        "right elbow",
        "right wrist",
        "left hip",
        "right hip",
        "left knee",
        "right knee",
    ]
    errors = {
        n: float(np.linalg.norm(a[:, NTU25.index(n)] - b[:, NTU25.index(n)], axis=-1).mean()) for n in checked
    }
    assert max(errors.values()) < 0.15, errors


def test_bundle_script_reproduces_the_committed_bundle(tmp_path):
    """scripts/make_pose_bundle.py with mediapipe 1.2's own metadata writers (plus the shim for the helper
    module 1.2 lacks): fed the committed networks in wheel layout, it writes the same bytes again."""
    import hashlib
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "scripts" / "make_pose_bundle.py"
    spec = importlib.util.spec_from_file_location("make_pose_bundle", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    wheel = tmp_path / "mediapipe-wheel-layout.whl"
    with zipfile.ZipFile(DEFAULT_POSE_MODEL) as bundle, zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr(script.DETECTOR_IN_WHEEL, bundle.read("pose_detector.tflite"))
        zf.writestr(script.LANDMARKER_IN_WHEEL, bundle.read("pose_landmarks_detector.tflite"))
    digest = script.build_bundle(wheel, tmp_path / "rebuilt.task")
    assert digest == hashlib.sha256(DEFAULT_POSE_MODEL.read_bytes()).hexdigest()

    with zipfile.ZipFile(tmp_path / "not-mediapipe.whl", "w") as zf:
        zf.writestr("other/file.txt", "x")
    with pytest.raises(FileNotFoundError, match="no mediapipe/modules/pose_detection/pose_detection.tflite"):
        script.build_bundle(tmp_path / "not-mediapipe.whl", tmp_path / "x.task")
