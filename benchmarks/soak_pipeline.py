"""Soak test of the live pipeline: a looped clip played like a camera for N minutes, memory sampled.

    python benchmarks/soak_pipeline.py --minutes 10 [--out soak.json]

Runs exactly what the app runs (capture thread, pose, buffer, inference worker, starter gallery) without
the window. Memory is the process RSS every ``--sample`` seconds; growth is measured from the end of the
first minute (allocators, model caches and XNNPACK warm up first) to the end. Target: <= 50 MB growth.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _live_common import add_live_arguments, live_model, machine, rss_mb  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_live_arguments(p)
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--sample", type=float, default=10.0, help="seconds between memory samples")
    args = p.parse_args(argv)

    from demo.live import LivePipeline, Settings
    from demo.pose import PoseEstimator

    with live_model(args) as (embedder, backend, store, what):
        settings = Settings()
        counts = {"updates": 0, "predictions": 0, "loops": 0}
        latencies: list[float] = []
        finished = threading.Event()

        def on_update(update):
            counts["updates"] += 1
            if len(latencies) < 200_000:
                latencies.append(update.latency_ms)

        def on_prediction(_p):
            counts["predictions"] += 1

        with PoseEstimator() as estimator:
            pipeline = LivePipeline(
                estimator,
                embedder,
                store.gallery,
                settings,
                on_update=on_update,
                on_prediction=on_prediction,
                on_finished=finished.set,
            )
            pipeline.open(args.clip, pace=True)
            start = time.monotonic()
            samples = [(0.0, rss_mb())]
            next_sample = args.sample
            while (elapsed := time.monotonic() - start) < args.minutes * 60:
                if finished.wait(0.2):
                    finished.clear()
                    counts["loops"] += 1
                    pipeline.open(args.clip, pace=True)  # loop like the app does
                if elapsed >= next_sample:
                    samples.append((round(elapsed, 1), rss_mb()))
                    rss = samples[-1][1]
                    print(f"{elapsed:7.1f} s  rss {rss:8.1f} MB  frames {counts['updates']}", flush=True)
                    next_sample += args.sample
            samples.append((round(time.monotonic() - start, 1), rss_mb()))
            dropped = pipeline.dropped_stale
            pipeline.close()

    import numpy as np

    after_warmup = [m for t, m in samples if t >= 60.0] or [samples[-1][1]]
    result = {
        "machine": machine(),
        "model": what,
        "backend": backend,
        "clip": args.clip.name,
        "minutes": args.minutes,
        "frames_processed": counts["updates"],
        "predictions": counts["predictions"],
        "loops": counts["loops"],
        "frames_dropped_stale": dropped,
        "latency_ms_p50": round(float(np.percentile(latencies, 50)), 1) if latencies else None,
        "latency_ms_p95": round(float(np.percentile(latencies, 95)), 1) if latencies else None,
        "rss_mb_start": round(samples[0][1], 1),
        "rss_mb_after_1min": round(after_warmup[0], 1),
        "rss_mb_end": round(samples[-1][1], 1),
        "rss_mb_max": round(max(m for _, m in samples), 1),
        "growth_mb_after_warmup": round(samples[-1][1] - after_warmup[0], 1),
        "samples": samples,
    }
    print(json.dumps({k: v for k, v in result.items() if k != "samples"}, indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if result["growth_mb_after_warmup"] <= 50 else 1


if __name__ == "__main__":
    raise SystemExit(main())
