"""Layouts, conversion to NTU-25, the canonical frame, windows and augmentation (synthetic + real NTU)."""

from __future__ import annotations

import numpy as np
import pytest

from crossglg.skeleton import (
    NTU25,
    Layout,
    get_layout,
    layout_names,
    make_window,
    register_layout,
    to_ntu25,
    window_from_frames,
)
from crossglg.skeleton import synthesis as rules
from crossglg.skeleton.augment import (
    Augmenter,
    crop_and_resample,
    drop_joints,
    mirror,
    mirror_labels,
    posture,
    rotate,
)
from crossglg.skeleton.convert import ntu_mapping

I = NTU25.index
LIMB_BONES = [("shoulder", "elbow"), ("elbow", "wrist"), ("hip", "knee"), ("knee", "ankle")]


def ntu_as(layout: str, joints: np.ndarray) -> np.ndarray:
    """The NTU skeleton re-expressed in another layout's joint order and raw axes, keeping only what
    that sensor measures (MediaPipe extras are placed at anatomically matching NTU points)."""
    target = get_layout(layout)
    head = joints[..., I("head"), :]
    across = joints[..., I("left shoulder"), :] - joints[..., I("right shoulder"), :]
    across = across / np.linalg.norm(across, axis=-1, keepdims=True)
    extra = {
        "nose": head,
        "left ear": head + 0.07 * across,
        "right ear": head - 0.07 * across,
        "hip center": joints[..., I("spine base"), :],
        "shoulder center": joints[..., I("spine shoulder"), :],
        "neck": joints[..., I("spine shoulder"), :],
        "spine": joints[..., I("spine mid"), :],
        "torso": joints[..., I("spine mid"), :],
    }
    for side in ("left", "right"):
        extra[f"{side} index"] = extra[f"{side} pinky"] = joints[..., I(f"{side} hand tip"), :]
        extra[f"{side} thumb knuckle"] = joints[..., I(f"{side} thumb"), :]
        extra[f"{side} heel"] = joints[..., I(f"{side} ankle"), :]
        extra[f"{side} foot index"] = joints[..., I(f"{side} foot"), :]
    out = np.stack(
        [joints[..., I(n), :] if n in NTU25.joints else extra.get(n, head) for n in target.joints], axis=-2
    )
    if layout == "mediapipe33":  # Kinect camera (x sensor-left, y up, z away) -> BlazePose world frame
        mid_hip = (out[..., target.index("left hip"), :] + out[..., target.index("right hip"), :]) / 2
        out = (out - mid_hip[..., None, :]) * np.array([-1.0, -1.0, 1.0])
    return out


@pytest.fixture(scope="module")
def drink(data_root):
    from crossglg.data import read_file

    return read_file(data_root / "ntu" / "S001C001P001R001A001.skeleton")


def test_registry_has_every_source_layout():
    assert {"ntu25", "kinect_v1", "msr_action3d", "openni15", "openpose18", "mediapipe33"} <= set(
        layout_names()
    )
    for name in layout_names():
        layout = get_layout(name)
        assert len(layout.joints) == len(layout.parents)
        for left, right in layout.left_right:
            assert layout.joints[left].replace("left", "right") == layout.joints[right]
    assert get_layout("mediapipe33").num_joints == 33 and get_layout("openni15").num_joints == 15


def test_user_layout_registers_and_converts_without_library_edits():
    names = (
        "head",
        "neck",
        "torso",
        "right shoulder",
        "right elbow",
        "right wrist",
        "left shoulder",
        "left elbow",
        "left wrist",
        "right hip",
        "right knee",
        "right ankle",
        "left hip",
        "left knee",
        "left ankle",
    )
    custom = register_layout(
        Layout(
            name="my_sensor15",
            joints=names,
            parents=(1, 2, -1, 1, 3, 4, 1, 6, 7, 2, 9, 10, 2, 12, 13),
            ntu_equivalents=(("spine shoulder", "neck"),),
        ),
        overwrite=True,
    )
    assert get_layout("my_sensor15") is custom
    assert len(custom.left_right) == 6 and custom.mirror_permutation()[3] == 6
    with pytest.raises(ValueError, match="already registered"):
        register_layout(custom)
    with pytest.raises(ValueError, match="bad parent"):
        Layout(name="broken", joints=("a", "b"), parents=(-1, 5))
    openni = get_layout("openni15")
    rng = np.random.default_rng(0)
    frames = rng.normal(size=(10, 15, 3))
    reorder = [names.index(n) if n in names else names.index("torso") for n in openni.joints]
    a = to_ntu25(frames, "my_sensor15")
    b = to_ntu25(frames[:, reorder], "openni15")
    np.testing.assert_allclose(a.joints, b.joints, atol=1e-6)  # same body points, any order


def test_measured_flags_follow_each_layout():
    expectations = {
        "kinect_v1": {"spine mid", "neck", "left hand tip", "left thumb", "right hand tip", "right thumb"},
        "msr_action3d": {"spine mid", "neck", "left hand tip", "left thumb", "right hand tip", "right thumb"},
        "openni15": {
            "spine base",
            "spine mid",
            "neck",
            "left hand",
            "right hand",
            "left hand tip",
            "left thumb",
            "right hand tip",
            "right thumb",
            "left foot",
            "right foot",
        },
    }
    for layout, synthesised in expectations.items():
        frames = np.random.default_rng(1).normal(size=(4, get_layout(layout).num_joints, 3))
        converted = to_ntu25(frames, layout)
        assert set(converted.synthesised_joints) == synthesised, layout
    mp = to_ntu25(np.random.default_rng(2).normal(size=(4, 33, 3)), "mediapipe33")
    assert set(mp.synthesised_joints) == set(NTU25.joints) - {
        f"{s} {p}" for s in ("left", "right") for p in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")
    }
    assert to_ntu25(np.ones((2, 25, 3)), "ntu25").measured.all()


def test_synthesis_rules_reproduce_kinect_v2_joints(drink):
    """Kinect v1 input built from the NTU (Kinect v2) skeleton: the rules put the missing joints close to
    where Kinect v2 measured them."""
    joints = drink.joints[0]
    converted = to_ntu25(ntu_as("kinect_v1", joints), "kinect_v1")
    error = {
        n: np.median(np.linalg.norm(converted.joints[0, :, I(n)] - joints[:, I(n)], axis=-1))
        for n in converted.synthesised_joints
    }
    assert error["spine mid"] < 0.02 and error["neck"] < 0.04, error
    assert max(error[f"{s} {p}"] for s in ("left", "right") for p in ("hand tip", "thumb")) < 0.08, error


def test_kinect_v1_and_mediapipe_give_the_same_canonical_window(drink):
    """The same body seen as Kinect v1 joints and as BlazePose world landmarks (y down, other axes)
    lands in the same canonical window: axes, sides and synthesis rules agree."""
    joints = drink.joints[0]
    v1 = make_window(to_ntu25(ntu_as("kinect_v1", joints), "kinect_v1"))
    mp = make_window(to_ntu25(ntu_as("mediapipe33", joints), "mediapipe33"))
    gap = np.median(np.linalg.norm(v1[..., 0] - mp[..., 0], axis=0), axis=0)  # (25,) metres
    limbs = [I(f"{s} {p}") for s in ("left", "right") for p in ("shoulder", "elbow", "wrist", "hip", "knee")]
    assert gap[limbs].max() < 0.05, gap  # spine base vs mid-hip origin: 3.4 cm apart on NTU
    assert gap.max() < 0.10, gap
    # a reflected axis map would have put the left wrist where the right one is
    assert (
        np.median(np.linalg.norm(mp[:, :, I("left wrist"), 0] - v1[:, :, I("right wrist"), 0], axis=0)) > 0.2
    )


def test_live_buffer_from_mediapipe_with_gaps_and_timestamps(drink):
    frames = ntu_as("mediapipe33", drink.joints[0]).astype(np.float32)
    times = np.arange(len(frames)) / 30.0
    frames[10:14] = np.nan  # pose lost for four frames
    window = window_from_frames(frames, "mediapipe33", timestamps=times)
    assert window.shape == (3, 60, 25, 2) and window.dtype == np.float32
    assert np.isfinite(window).all() and not window[..., 1].any()
    head = window[1, :, I("head"), 0]
    assert (head > window[1, :, I("spine base"), 0] + 0.4).all()


def test_mirrored_image_flag_restores_the_sides(drink):
    joints = ntu_as("mediapipe33", drink.joints[0])
    layout = get_layout("mediapipe33")
    seen_in_mirror = joints[:, layout.mirror_permutation()] * np.array([-1.0, 1.0, 1.0])
    direct = make_window(to_ntu25(joints, "mediapipe33"))
    restored = make_window(to_ntu25(seen_in_mirror, "mediapipe33", mirrored=True))
    np.testing.assert_allclose(direct, restored, atol=1e-5)


def test_canonical_frame_origin_heading_and_handedness(drink):
    window = make_window(drink)
    body = window[..., 0]
    np.testing.assert_allclose(body[:, 0, I("spine base")], 0.0, atol=1e-6)
    hip_line = body[:, :5, I("left hip")] - body[:, :5, I("right hip")]
    mean_line = hip_line.mean(axis=1)
    assert mean_line[0] > 0.1 and abs(mean_line[2]) < 1e-3  # along +x
    assert (body[1, :, I("head")] > body[1, :, I("spine base")]).all()  # +y up
    assert (body[2, :, I("left foot")] > body[2, :, I("left ankle")]).mean() > 0.9  # faces +z
    scaled = make_window(drink, scale=True)[..., 0]
    torso = np.linalg.norm(scaled[:, :, I("spine shoulder")] - scaled[:, :, I("spine base")], axis=0)
    assert abs(torso.mean() - 1.0) < 0.05


def test_resampling_uses_timestamps():
    """A joint moving at constant speed but recorded with dropped frames must come out evenly spaced."""
    rng = np.random.default_rng(0)
    base = rng.normal(scale=0.2, size=(25, 3))
    base[I("left hip")] = [0.1, 0, 0]
    base[I("right hip")] = [-0.1, 0, 0]
    times = np.sort(rng.choice(np.arange(300), 80, replace=False)) / 30.0
    frames = np.repeat(base[None], len(times), axis=0)
    frames[:, I("right wrist"), 1] += times  # 1 m/s upward
    window = make_window(to_ntu25(frames, "ntu25", timestamps=times))
    steps = np.linalg.norm(np.diff(window[:, :, I("right wrist"), 0], axis=1), axis=0)  # rotation-free
    np.testing.assert_allclose(steps, (times[-1] - times[0]) / 59, rtol=1e-4)
    by_index = make_window(to_ntu25(frames, "ntu25"))
    uneven = np.linalg.norm(np.diff(by_index[:, :, I("right wrist"), 0], axis=1), axis=0)
    assert np.ptp(uneven) > 1e-3  # without timestamps the dropped frames speed the motion up


def test_two_bodies_main_actor_first_and_missing_body_zero(data_root):
    from crossglg.data import read_file

    pair = read_file(data_root / "ntu" / "S001C003P008R002A058.skeleton")
    assert pair.num_bodies == 2
    window = make_window(pair)
    assert np.abs(window[..., 1]).sum() > 0
    single = make_window(read_file(data_root / "ntu" / "S002C001P003R001A003.skeleton"))
    assert not single[..., 1].any()


def test_augment_mirror_swaps_sides_consistently(drink):
    window = make_window(drink)
    flipped = mirror(window)
    np.testing.assert_allclose(flipped[0, :, I("left wrist")], -window[0, :, I("right wrist")])
    np.testing.assert_allclose(flipped[1:, :, I("left wrist")], window[1:, :, I("right wrist")])
    hip_line = flipped[:, 0, I("left hip"), 0] - flipped[:, 0, I("right hip"), 0]
    assert hip_line[0] > 0  # still a body whose left is on +x
    np.testing.assert_allclose(mirror(flipped), window)


def test_mirror_labels_pair_sided_twins_and_never_mirror_a_lone_side():
    from crossglg.data.readers import class_names

    names = [f"{d}: {n}" for d in ("msrc12", "gtu3d", "precog") for n in class_names(d).values()]
    to = dict(zip(names, (names[j] if j >= 0 else None for j in mirror_labels(names)), strict=True))
    assert to["precog: front right kick"] == "precog: front left kick"
    assert to["precog: side left kick"] == "precog: side right kick"
    assert to["gtu3d: left-handed shaking"] == "gtu3d: right-handed shaking"
    assert to["gtu3d: right and left waist stretch"] == "gtu3d: right and left waist stretch"  # both sides
    assert to["msrc12: kick"] == "msrc12: kick" and to["precog: elbow strike"] == "precog: elbow strike"
    assert to["msrc12: push right"] is None  # its mirror image ("push left") is no class
    twins = mirror_labels(names)
    paired = twins >= 0
    assert (twins[twins[paired]] == np.flatnonzero(paired)).all()  # mirroring twice gives the class back


def test_augmenter_reports_mirroring_and_may_keep_the_side(drink):
    window = make_window(drink)
    augment = Augmenter()
    runs = [(augment.augment(window, s), augment.augment(window, s, may_mirror=False)) for s in range(16)]
    assert {mirrored for (_, mirrored), _ in runs} == {True, False}
    for seed, ((out, mirrored), (kept, kept_mirrored)) in enumerate(runs):
        assert not kept_mirrored
        np.testing.assert_array_equal(out, augment(window, seed))
        # the same draws either way: unless it was mirrored, the result is the kept one
        assert np.array_equal(out, kept) != mirrored


def assert_limb_bones_kept(out: np.ndarray, window: np.ndarray, more=()) -> None:
    for parent, child in [*LIMB_BONES, *more]:
        for side in ("left", "right"):
            a, b = I(f"{side} {parent}"), I(f"{side} {child}")
            np.testing.assert_allclose(
                np.linalg.norm(out[:, :, a] - out[:, :, b], axis=0),
                np.linalg.norm(window[:, :, a] - window[:, :, b], axis=0),
                atol=1e-5,
            )


def test_augment_ops_keep_shapes_bones_and_absent_bodies(drink):
    window = make_window(drink)
    assert_limb_bones_kept(rotate(window, 0.5, 0.1, -0.1), window)
    dropped = drop_joints(window, [I("right hand")])
    np.testing.assert_array_equal(dropped[:, :, I("right hand")], window[:, :, I("right wrist")])
    cropped = crop_and_resample(window, 0.25, 0.5)
    np.testing.assert_allclose(cropped[:, 0], 0.25 * window[:, 14] + 0.75 * window[:, 15], atol=1e-5)
    np.testing.assert_allclose(cropped[:, -1], 0.75 * window[:, 44] + 0.25 * window[:, 45], atol=1e-5)
    augment = Augmenter()
    outs = [augment(window, seed) for seed in range(8)]
    for out in outs:
        assert out.shape == window.shape and out.dtype == np.float32 and np.isfinite(out).all()
        assert not out[..., 1].any()
    assert np.abs(outs[0] - outs[1]).max() > 0.01
    np.testing.assert_array_equal(augment(window, 3), augment(window, 3))


def test_posture_turns_limbs_and_keeps_bones_and_torso(drink):
    window = make_window(drink)
    out = posture(window, np.full((8, 3), 0.3))
    assert_limb_bones_kept(out, window, [("wrist", "hand")])
    torso = [I(n) for n in ("spine base", "spine mid", "neck", "head", "left shoulder", "right hip")]
    np.testing.assert_array_equal(out[:, :, torso], window[:, :, torso])
    assert np.abs(out[:, :, I("left wrist")] - window[:, :, I("left wrist")]).max() > 0.05
    assert not out[..., 1].any()
    np.testing.assert_allclose(posture(window, np.zeros((8, 3))), window, atol=1e-6)


def test_rules_are_shared_functions():
    wrist, elbow = np.array([[0.0, 0.0, 0.0]]), np.array([[0.0, 0.25, 0.0]])
    hand = rules.hand(wrist, elbow)
    np.testing.assert_allclose(hand, [[0, -0.25 * rules.HAND_FRACTION, 0]])
    assert ntu_mapping(get_layout("kinect_v1"))[I("spine base")] == 0


def test_bad_shapes_raise_clear_errors():
    with pytest.raises(ValueError, match="expects"):
        to_ntu25(np.zeros((5, 19, 3)), "kinect_v1")
    with pytest.raises(KeyError, match="unknown skeleton layout"):
        get_layout("nope")
    with pytest.raises(ValueError, match="no body"):
        make_window(to_ntu25(np.zeros((5, 25, 3)), "ntu25"))
