"""Training throughput of candidate recipes on this machine: samples/s of full CrossGLG training steps
(encoder + JID + L2G + all losses, real windows and real text features, augmentation included).

    .venv/bin/python benchmarks/bench_training.py --threads 2 --steps 6 \
        --recipe infogcn:0.5:9 --recipe infogcn:0.25:3 --recipe stgcn:0.25:3

Prints one line per recipe and appends a JSON record (with the machine) to runs/bench_training.jsonl.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--recipe",
        action="append",
        default=[],
        help="encoder:width:depth[:bodies] (bodies 1 = main body only); repeatable",
    )
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=6, help="timed steps after 2 warm-up steps")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--data-root", default="../shared/data")
    p.add_argument("--no-text", action="store_true", help="baseline: g2l and l2g off")
    p.add_argument("--out", type=Path, default=Path("runs/bench_training.jsonl"))
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)

    from crossglg.models import build_model
    from crossglg.text.encoder import text_features
    from crossglg.training.config import load_config
    from crossglg.training.data import prepare_data
    from crossglg.training.experiment import machine_description, make_augmenter
    from crossglg.training.trainer import WindowDataset

    cfg = load_config(None, [f'data.root="{args.data_root}"'])
    data = prepare_data(cfg)
    text = text_features(data.descriptions)
    machine = machine_description()
    for recipe in args.recipe or ["infogcn:1.0:9", "infogcn:0.5:9", "infogcn:0.25:3", "stgcn:0.25:3"]:
        enc, width, depth, *rest = recipe.split(":")
        bodies = int(rest[0]) if rest else 2
        torch.manual_seed(0)
        model = build_model(
            {
                "encoder": enc,
                "width": float(width),
                "depth": int(depth),
                "num_classes": len(data.class_names),
                "g2l": not args.no_text,
                "l2g": not args.no_text,
            }
        )
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
        ds = WindowDataset(data.train_windows[..., :bodies], data.train_labels, make_augmenter(cfg))
        rng = np.random.default_rng(0)
        times = []
        model.train()
        for step in range(args.steps + 2):
            t0 = time.perf_counter()
            idx = rng.choice(len(ds), args.batch, replace=False)
            x = torch.stack([ds[i][0] for i in idx])
            y = torch.as_tensor(data.train_labels[idx])
            out = model(x, labels=y, text=text)
            loss, _ = model.loss(out, y, text)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if step >= 2:
                times.append(time.perf_counter() - t0)
        sps = args.batch / float(np.median(times))
        params = sum(q.numel() for q in model.parameters())
        epoch_s = len(ds) / sps
        rec = {
            "recipe": recipe,
            "bodies": bodies,
            "batch": args.batch,
            "threads": args.threads,
            "params": params,
            "samples_per_s": round(sps, 1),
            "epoch_s": round(epoch_s, 1),
            "train_windows": len(ds),
            "text": not args.no_text,
            "machine": machine,
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        print(
            f"{recipe:18s} bodies {bodies} params {params / 1e6:.3f}M  {sps:7.1f} samples/s  "
            f"epoch ({len(ds)} windows) {epoch_s:6.1f} s",
            flush=True,
        )
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with open(args.out, "a") as f:
            f.write(json.dumps(rec) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
