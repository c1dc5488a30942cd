"""Video sources: clear errors, media timestamps, newest-frame grabbing, reconnection of live sources."""

from __future__ import annotations

import time

import pytest

from demo.capture import LatestFrameGrabber, SourceError, VideoSource, parse_source


def test_bad_path_gives_a_clear_error(tmp_path):
    with pytest.raises(SourceError, match="video file not found: .*nope.mp4"):
        VideoSource(tmp_path / "nope.mp4")
    not_video = tmp_path / "notes.mp4"
    not_video.write_text("hello")
    with pytest.raises(SourceError, match="cannot open file notes.mp4"):
        VideoSource(not_video)
    with pytest.raises(SourceError, match="not a video file"):
        VideoSource(tmp_path)


def test_absent_camera_gives_a_clear_error():
    with pytest.raises(SourceError, match="camera 57 is not available"):
        VideoSource(57)


def test_source_spec_parsing(tmp_path):
    assert parse_source("0") == 0 and parse_source(3) == 3
    assert parse_source("rtsp://host/stream") == "rtsp://host/stream"


def test_file_frames_carry_media_time(data_root):
    source = VideoSource(data_root / "videos" / "tai_chi.mp4")
    assert source.is_file and source.fps == pytest.approx(30, abs=0.5) and source.frame_count == 300
    stamps = [source.read().timestamp for _ in range(4)]
    assert stamps == pytest.approx([0, 1 / source.fps, 2 / source.fps, 3 / source.fps])
    source.close()


def test_grabber_hands_out_only_the_newest_frame(data_root):
    """A consumer slower than the source skips frames instead of queueing them (no growing lag)."""
    grabber = LatestFrameGrabber(VideoSource(data_root / "videos" / "tai_chi.mp4"), pace=True)
    seen = []
    for _ in range(5):
        frame = grabber.latest(timeout=1.0)
        assert frame is not None
        seen.append(frame.index)
        time.sleep(0.15)  # ~4.5 frame periods at 30 fps
    grabber.stop()
    assert seen == sorted(seen)
    # ~4.5 frame periods pass between reads; allow for a starved capture thread on a busy machine.
    assert min(b - a for a, b in zip(seen, seen[1:], strict=False)) >= 2
    assert grabber.dropped >= 5


def test_live_source_reconnects_after_it_drops(data_root):
    """A stream that ends is a dropped live source: it is reopened and frames flow again."""
    statuses = []
    url = (data_root / "videos" / "tai_chi.mp4").resolve().as_uri()  # file:// URL: read as a stream
    source = VideoSource(url, reconnect_seconds=0.05, on_status=statuses.append)
    assert not source.is_file
    frames = 0
    while frames < 320:  # the clip has 300 frames: the source must come back to deliver more
        assert source.read() is not None
        frames += 1
    source.close()
    assert any("lost; reconnecting" in s for s in statuses)
    assert any("reconnected" in s for s in statuses)
