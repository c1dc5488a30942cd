"""Latency of the skeleton branch (the live app's per-window cost): parameters, GFLOPs, torch eager
and ONNX Runtime milliseconds at batch 1 on this CPU.

    .venv/bin/python benchmarks/bench_skeleton_branch.py --threads 2 \
        --config infogcn:1.0:9:2 --config infogcn:0.5:9:2 --config infogcn:0.5:6:1

Each --config is encoder:width:depth:bodies (bodies 1 = the main body only). Prints a table and
appends a JSON record with the machine description and the load average (other work on the box
inflates every figure) to runs/bench_skeleton_branch.jsonl.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from crossglg.training.experiment import cpu_name

DEFAULT_CONFIGS = [
    "infogcn:1.0:9:2",
    "infogcn:0.5:9:2",
    "infogcn:0.5:9:1",
    "infogcn:0.5:6:1",
    "stgcn:0.5:6:1",
]


def machine() -> dict:
    return {
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "load_average_1m": os.getloadavg()[0],
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
    }


def median_ms(fn, repeats: int) -> float:
    for _ in range(3):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", action="append", default=[], help="encoder:width:depth:bodies; repeatable")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=30)
    p.add_argument("--no-onnx", action="store_true")
    p.add_argument("--out", type=Path, default=Path("runs/bench_skeleton_branch.jsonl"))
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    from torch.utils.flop_counter import FlopCounterMode

    from crossglg.models import build_model, count_parameters

    rows = []
    x = torch.from_numpy(np.random.default_rng(0).normal(size=(1, 3, 60, 25, 2)).astype(np.float32))
    for spec in args.config or DEFAULT_CONFIGS:
        encoder, width, depth, bodies = spec.split(":")
        cfg = {"encoder": encoder, "num_classes": 100, "width": float(width), "depth": int(depth)}
        cfg["num_person"] = int(bodies)
        branch = build_model(cfg).eval().skeleton_branch().eval()
        with FlopCounterMode(display=False) as flops, torch.no_grad():
            branch(x)
        with torch.inference_mode():
            eager = median_ms(lambda b=branch: b(x), args.repeats)
        row = {
            "config": spec,
            "params": count_parameters(branch),
            "gflop": flops.get_total_flops() / 1e9,
            "torch_eager_ms": eager,
        }
        if not args.no_onnx:
            import onnxruntime as ort

            with tempfile.TemporaryDirectory() as tmp:
                path = os.path.join(tmp, "branch.onnx")
                torch.onnx.export(
                    branch,
                    (x.repeat(2, 1, 1, 1, 1),),
                    path,
                    dynamo=True,
                    opset_version=18,
                    verbose=False,
                    dynamic_shapes=({0: torch.export.Dim("batch")},),
                )
                opts = ort.SessionOptions()
                opts.intra_op_num_threads = args.threads
                session = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
                name = session.get_inputs()[0].name
                row["onnxruntime_ms"] = median_ms(
                    lambda s=session, n=name: s.run(None, {n: x.numpy()}), args.repeats
                )
        rows.append(row)
        print(
            f"{spec:18s} params {row['params']:>9,}  {row['gflop']:.3f} GFLOP  "
            f"torch {row['torch_eager_ms']:7.1f} ms"
            + (f"  onnxruntime {row['onnxruntime_ms']:7.1f} ms" if "onnxruntime_ms" in row else ""),
            flush=True,
        )
    record = {
        "benchmark": "skeleton_branch_batch1",
        "machine": machine(),
        "results": rows,
        "time": time.time(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\n")
    print(f"machine: {record['machine']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
