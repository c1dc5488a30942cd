"""Throughput and latency of the live pipeline on a real clip (default ``tai_chi.mp4``, 340x256, 30 fps).

    python benchmarks/bench_pipeline.py [--clip FILE] [--loops 3] [--out bench.json]

Two measurements:

1. **Stages** (offline, every frame in order, inference inline every ``stride`` frames): ms per frame for
   decoding, pose, the window (MediaPipe -> NTU-25 -> canonical, resampled), the embedding and the
   decision; overall frames/s.
2. **Live** (what the app runs: the file paced at its frame rate like a camera, capture thread, pose
   thread, inference worker): processed and shown frames/s and the end-to-end latency (capture -> update
   ready for display) p50 / p95 of the frames shown, plus how many frames were skipped to stay fresh.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _live_common import add_live_arguments, live_model, machine  # noqa: E402


def stages(clip: Path, embedder, gallery, stride: int) -> dict:
    from demo.capture import VideoSource
    from demo.live import Matcher, Settings
    from demo.live.windows import PoseBuffer
    from demo.pose import PoseEstimator

    settings = Settings(stride=stride)
    matcher = Matcher(embedder, gallery, settings)
    buffer = PoseBuffer()
    timing = {"decode": [], "pose": [], "window": [], "embed+decide": []}
    source = VideoSource(clip)
    start = time.perf_counter()
    frames = 0
    with PoseEstimator() as estimator:
        while True:
            t0 = time.perf_counter()
            frame = source.read()
            if frame is None:
                break
            t1 = time.perf_counter()
            result = estimator.process(frame.image, frame.timestamp)
            t2 = time.perf_counter()
            timing["decode"].append((t1 - t0) * 1e3)
            timing["pose"].append((t2 - t1) * 1e3)
            buffer.append(frame.timestamp, None if result.main is None else result.main.world)
            frames += 1
            if frames % stride == 0 and buffer.coverage(settings.window_seconds) >= settings.min_coverage:
                t3 = time.perf_counter()
                window = buffer.window(settings.window_seconds)
                t4 = time.perf_counter()
                matcher(window, frame.timestamp)
                t5 = time.perf_counter()
                timing["window"].append((t4 - t3) * 1e3)
                timing["embed+decide"].append((t5 - t4) * 1e3)
    wall = time.perf_counter() - start
    source.close()
    out = {"frames": frames, "frames_per_s": round(frames / wall, 1), "stride": stride}
    for name, values in timing.items():
        out[f"{name}_ms_mean"] = round(float(np.mean(values)), 2) if values else None
        out[f"{name}_ms_p95"] = round(float(np.percentile(values, 95)), 2) if values else None
    return out


def live(clip: Path, embedder, gallery, loops: int, stride: int) -> dict:
    from demo.live import LivePipeline, Settings
    from demo.pose import PoseEstimator

    settings = Settings(stride=stride)
    latencies, models = [], []
    finished = threading.Event()
    with PoseEstimator() as estimator:
        pipeline = LivePipeline(
            estimator,
            embedder,
            gallery,
            settings,
            on_update=lambda u: latencies.append(u.latency_ms),
            on_prediction=lambda p: models.append(p.model_ms),
            on_finished=finished.set,
        )
        start = time.monotonic()
        for _ in range(loops):
            finished.clear()
            source = pipeline.open(clip, pace=True)
            finished.wait(source.frame_count / source.fps + 30)
        wall = time.monotonic() - start
        stats = {
            "processed": pipeline.processed,
            "skipped_before_pose": pipeline.dropped_stale,
            "processed_not_shown": pipeline.dropped_late,
        }
        pipeline.close()
    return {
        "loops": loops,
        "seconds": round(wall, 1),
        "processed_frames_per_s": round(stats["processed"] / wall, 1),
        "shown_frames_per_s": round(len(latencies) / wall, 1),
        **stats,
        "latency_ms_p50": round(float(np.percentile(latencies, 50)), 1),
        "latency_ms_p95": round(float(np.percentile(latencies, 95)), 1),
        "latency_ms_max": round(float(np.max(latencies)), 1),
        "model_ms_mean": round(float(np.mean(models)), 2) if models else None,
        "decisions": len(models),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_live_arguments(p)
    p.add_argument("--stride", type=int, default=5)
    p.add_argument("--loops", type=int, default=3, help="live playbacks of the clip")
    args = p.parse_args(argv)

    with live_model(args) as (embedder, backend, store, what):
        gallery = store.gallery  # the starter gallery
        result = {
            "machine": machine(),
            "model": what,
            "backend": backend,
            "gallery_classes": len(gallery),
            "clip": args.clip.name,
            "stages": stages(args.clip, embedder, gallery, args.stride),
            "live": live(args.clip, embedder, gallery, args.loops, args.stride),
        }
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
