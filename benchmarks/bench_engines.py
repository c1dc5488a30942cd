"""Latency of the skeleton branch per runtime backend (p50 / p95 at batch 1 and 8, windows/s),
with the branch's parameter count and FLOPs. Not a test: it prints a Markdown table for
docs/performance.md and can write the raw figures as JSON.

    python benchmarks/bench_engines.py                         # fresh model, default config
    python benchmarks/bench_engines.py --checkpoint resources/models/crossglg_default --json out.json

Inputs are real NTU RGB+D windows when ../shared/data is present (random windows otherwise; the
latency of these graphs does not depend on values). The load average is recorded before and after:
figures taken while other work shares the CPU are not comparable.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from crossglg.checkpoint import open_model  # noqa: E402
from engines import OnnxRuntimeBackend, TunedTorchBackend, available_backends, load_backend  # noqa: E402
from engines.backends import cached_onnx, physical_cores  # noqa: E402


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout.splitlines():
            if line.startswith("Model name:"):
                cpu = line.split(":", 1)[1].strip()
    except (OSError, subprocess.SubprocessError):
        pass
    info = {
        "cpu": cpu,
        "logical_cpus": os.cpu_count(),
        "physical_cores_used": physical_cores(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "os": platform.platform(),
    }
    try:
        import onnxruntime

        info["onnxruntime"] = onnxruntime.__version__
    except ImportError:
        pass
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


SHIPPED_CONFIG = REPO / "train" / "configs" / "shipped_default.toml"


def model_config(config_path: Path) -> dict:
    """The [model] section of an experiment config, as build_model takes it."""
    from crossglg.models import DEFAULT_CONFIG
    from crossglg.training.config import load_config

    section = load_config(config_path)["model"]
    # The class count only sizes the training classifier, never the skeleton branch.
    return {**{k: v for k, v in section.items() if k in DEFAULT_CONFIG}, "num_classes": 51}


def load_model(checkpoint: str | None, config_path: Path):
    if checkpoint:
        from crossglg.checkpoint import load_checkpoint

        return load_checkpoint(checkpoint)
    from crossglg.models import build_model

    torch.manual_seed(0)
    return build_model(model_config(config_path)).eval()


def windows_for(batch: int, data_root: Path) -> np.ndarray:
    try:
        from crossglg.data import load_dataset
        from crossglg.skeleton import make_window

        real = np.stack([make_window(s) for s in load_dataset("ntu", data_root)]).astype(np.float32)
        reps = -(-batch // len(real))
        return np.ascontiguousarray(np.concatenate([real] * reps)[:batch])
    except (FileNotFoundError, ImportError):
        return np.random.default_rng(0).normal(0, 0.3, (batch, 3, 60, 25, 2)).astype(np.float32)


def time_backend(backend, windows: np.ndarray, *, warmup: int, iters: int, budget_s: float) -> dict:
    for _ in range(warmup):
        backend(windows)
    times = []
    started = time.perf_counter()
    while len(times) < iters and (len(times) < 10 or time.perf_counter() - started < budget_s):
        t0 = time.perf_counter()
        backend(windows)
        times.append(time.perf_counter() - t0)
    times_ms = sorted(t * 1e3 for t in times)
    p50 = statistics.median(times_ms)
    p95 = times_ms[min(len(times_ms) - 1, int(round(0.95 * (len(times_ms) - 1))))]
    return {"p50_ms": p50, "p95_ms": p95, "windows_per_s": len(windows) / (p50 / 1e3), "runs": len(times)}


def flops_of(branch, batch: int = 1) -> int:
    """Counted by torch's FlopCounterMode (conv, matmul, einsum, bmm: 2 x multiply-adds)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        branch(torch.zeros(batch, 3, 60, 25, 2))
    return int(counter.get_total_flops())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="checkpoint folder (default: a fresh model of --config)")
    parser.add_argument(
        "--config",
        type=Path,
        default=SHIPPED_CONFIG,
        help="experiment TOML whose [model] is built when no checkpoint is given",
    )
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--iters", type=int, default=50)
    parser.add_argument("--budget", type=float, default=20.0, help="seconds per case after 10 runs")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--json", type=Path, help="write the raw figures here")
    parser.add_argument(
        "--threads",
        type=int,
        nargs="+",
        default=[physical_cores()],
        help="CPU thread counts to time torch and ONNX Runtime at (default: physical cores)",
    )
    parser.add_argument(
        "--spin", action="store_true", help="also time ONNX Runtime with busy-waiting threads"
    )
    parser.add_argument("--fp16-onnx", action="store_true", help="also time the FP16 ONNX in ONNX Runtime")
    args = parser.parse_args(argv)

    torch.set_num_threads(physical_cores())
    resolved = open_model(load_model(args.checkpoint, args.config))
    branch = resolved.branch
    params = sum(p.numel() for p in branch.parameters())
    flops = flops_of(branch)

    candidates: list[tuple[str, object]] = []
    for name, ok, why in available_backends():
        if not ok:
            print(f"# {name}: skipped ({why})")
            continue
        try:
            if name == "torch-cpu":
                for n in args.threads:
                    candidates.append(
                        (f"torch eager (CPU, {n} thr)", TunedTorchBackend(branch, "cpu", threads=n))
                    )
            elif name == "torch-cuda":
                candidates.append(("torch eager (CUDA)", TunedTorchBackend(branch, "cuda")))
                candidates.append(
                    ("torch + CUDA graphs", TunedTorchBackend(branch, "cuda", cuda_graphs=True))
                )
            elif name == "onnxruntime-cpu":
                fp32 = cached_onnx(resolved, fp16=False)
                for n in args.threads:
                    candidates.append(
                        (f"ONNX Runtime CPU fp32 ({n} thr)", OnnxRuntimeBackend(fp32, threads=n))
                    )
                    if args.spin:
                        candidates.append(
                            (
                                f"ONNX Runtime CPU fp32 ({n} thr, spin)",
                                OnnxRuntimeBackend(fp32, threads=n, spin=True),
                            )
                        )
                    if args.fp16_onnx:
                        fp16 = cached_onnx(resolved, fp16=True)
                        candidates.append(
                            (f"ONNX Runtime CPU fp16 ({n} thr)", OnnxRuntimeBackend(fp16, threads=n))
                        )
            elif name == "onnxruntime-cuda":
                candidates.append(("ONNX Runtime CUDA", load_backend(resolved, "onnxruntime", "cuda")))
            else:
                candidates.append((name, load_backend(resolved, name)))
        except Exception as err:  # report, keep measuring the rest
            print(f"# {name}: failed to load ({err})")

    load_before = os.getloadavg()
    results = []
    for label, backend in candidates:
        for batch in args.batches:
            windows = windows_for(batch, args.data)
            row = time_backend(
                backend, windows, warmup=3 if batch > 1 else 5, iters=args.iters, budget_s=args.budget
            )
            row.update(backend=label, batch=batch, describe=backend.describe())
            results.append(row)
            print(
                f"# {label} batch {batch}: p50 {row['p50_ms']:.1f} ms, p95 {row['p95_ms']:.1f} ms "
                f"({row['runs']} runs)",
                flush=True,
            )
    load_after = os.getloadavg()

    info = machine()
    print()
    print(
        f"Machine: {info['cpu']}, {info['logical_cpus']} logical CPUs, "
        f"{info['physical_cores_used']} threads; "
        f"torch {info['torch']}, onnxruntime {info.get('onnxruntime', '-')}; "
        f"load average {load_before[0]:.2f} before, {load_after[0]:.2f} after"
    )
    source = args.checkpoint or f"fresh model of {args.config.name}"
    print(f"Model: {source}")
    print(
        f"Skeleton branch: {params / 1e6:.2f} M parameters, {flops / 1e9:.2f} GFLOPs per window "
        f"(model {resolved.model_hash[:12]})"
    )
    print()
    print("| backend | batch | p50 ms | p95 ms | windows/s |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for row in results:
        print(
            f"| {row['backend']} | {row['batch']} | {row['p50_ms']:.1f} | {row['p95_ms']:.1f} | "
            f"{row['windows_per_s']:.1f} |"
        )
    p50 = {(r["backend"], r["batch"]): r["p50_ms"] for r in results}
    for n in args.threads:
        torch_ms = p50.get((f"torch eager (CPU, {n} thr)", 1))
        ort_ms = p50.get((f"ONNX Runtime CPU fp32 ({n} thr)", 1))
        if torch_ms and ort_ms:
            print(
                f"ONNX Runtime / torch eager, batch 1, {n} threads: {ort_ms / torch_ms:.2f} (target <= 0.75)"
            )
    if args.json:
        payload = {
            "machine": info,
            "load_average": [load_before, load_after],
            "parameters": params,
            "flops_per_window": flops,
            "model_source": source,
            "model_hash": resolved.model_hash,
            "results": results,
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
