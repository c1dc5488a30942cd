"""Multi-process training through torchrun: two CPU processes with the gloo backend, one short epoch."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_torchrun_two_processes_gloo(data_root, tmp_path):
    run = tmp_path / "ddp"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "train.train",
        "train/configs/kinect_msrc12_infogcn_baseline.toml",
        "--run-dir",
        str(run),
        "--data-root",
        str(data_root),
        "--set",
        "model.width=0.125",
        "--set",
        "optim.epochs=1",
        "--set",
        "optim.batch_size=8",
        "--set",
        "train.max_steps_per_epoch=3",
        "--set",
        "data.draws=2",
        "--set",
        "train.progress=false",
        "--set",
        "train.threads=1",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "world size 2" in proc.stdout + proc.stderr
    results = json.loads((run / "results.json").read_text())
    assert results["world_size"] == 2 and results["last_epoch"]["epoch"] == 1
    assert "(last epoch)" in proc.stdout
    row = next(csv.DictReader(open(run / "metrics.csv")))
    # 3 steps x 4 samples per rank x 2 ranks were counted; the loss was averaged over both ranks.
    assert float(row["loss_total"]) > 0
    assert (run / "checkpoint" / "model.safetensors").is_file()
