"""The Kinect one-shot ablation as a resumable job queue: every (config, seed) is one ``crossglg-train`` run
in its own folder under runs/ablation/; finished runs (results.json present) are skipped, so the queue can
be stopped and restarted. Every command is appended to runs/ablation/commands.log with its wall time.

    .venv/bin/python -m train.run_ablation --parallel 2 --seeds 0 1 2
    .venv/bin/python -m train.run_ablation --summary          # tables from the finished runs

Every base configuration reads a frozen snapshot of the prepared protocol (<out>/data/*.npz, written once by
this script), so all rows see identical windows and exemplar draws.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "train" / "configs"
OUT = ROOT / "runs" / "ablation"
BASES = {
    "msrc12_msr": "msrc12+msr",
    "msrc12": "msrc12",
    # issue 14: the wide base and its nested reductions (ST-GCN-style rows only)
    "wide": "wide",
    "wide27": "wide:27",
    "wide50": "wide:50",
    "wide72": "wide:72",
}
ROWS = [
    ("infogcn", "baseline"),
    ("infogcn", "g2l"),
    ("infogcn", "l2g"),
    ("infogcn", "full"),
    ("stgcn", "baseline"),
    ("stgcn", "full"),
]


def frozen_data(job: dict) -> Path:
    """The base's prepared protocol, frozen once beside the runs (every config of a base prepares the
    same windows, so the job's own config writes it)."""
    path = OUT / "data" / f"kinect_{job['base']}.npz"
    if not path.is_file():
        from crossglg.training.config import load_config
        from crossglg.training.data import freeze_data

        freeze_data(load_config(job["config"]), path)
    return path


def jobs(seeds: list[int], bases: list[str], rows: list[tuple[str, str]]) -> list[dict]:
    out = []
    for seed in seeds:  # seed-major: a partial queue still covers every row
        for base in bases:
            for enc, row in rows:
                name = f"kinect_{base}_{enc}_{row}"
                if not (CONFIGS / f"{name}.toml").is_file():
                    continue  # e.g. the wide bases have ST-GCN-style rows only
                out.append(
                    {
                        "name": name,
                        "seed": seed,
                        "base": base,
                        "config": CONFIGS / f"{name}.toml",
                        "run_dir": OUT / f"{name}_s{seed}",
                        "text": row != "baseline",
                    }
                )
    return out


def text_available() -> bool:
    try:
        import crossglg.text.encoder  # noqa: F401
    except ImportError:
        return False
    return True


def _shown(path: Path) -> str:
    """Repo-relative where possible, so commands.log reads the same on every machine."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def command(job: dict, threads: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "train.train",
        _shown(job["config"]),
        "--run-dir",
        _shown(job["run_dir"]),
        "--seed",
        str(job["seed"]),
        "--set",
        f'data.prepared="{_shown(frozen_data(job))}"',
        "--set",
        f"train.threads={threads}",
        "--set",
        "train.progress=false",
    ]


def alive_elsewhere(job: dict) -> bool:
    """True while another queue's process still trains this run (its pid file names a live process)."""
    try:
        pid = int((job["run_dir"] / "queue.pid").read_text())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return False
    return True


def run_queue(todo: list[dict], parallel: int, threads: int, overrides: list[str]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    log = OUT / "commands.log"
    running: list[tuple[dict, subprocess.Popen, float]] = []
    pending = [j for j in todo if not (j["run_dir"] / "results.json").is_file()]
    print(f"{len(todo) - len(pending)} runs already done, {len(pending)} to go", flush=True)
    while pending or running:
        pending = [j for j in pending if not (j["run_dir"] / "results.json").is_file()]
        foreign = [j for j in pending if alive_elsewhere(j)]
        for item in list(running):
            job, proc, t0 = item
            if proc.poll() is not None:
                running.remove(item)
                wall = time.time() - t0
                with open(log, "a") as f:
                    f.write(f"# rc={proc.returncode} wall_s={wall:.0f} {job['run_dir'].name}\n")
                print(f"done {job['run_dir'].name} rc={proc.returncode} in {wall:.0f}s", flush=True)
        have_text = text_available()
        while pending and len(running) + len(foreign) < parallel:
            ready = [j for j in pending if (have_text or not j["text"]) and j not in foreign]
            if not ready:
                break
            job = ready[0]
            pending.remove(job)
            cmd = command(job, threads) + [a for o in overrides for a in ("--set", o)]
            job["run_dir"].mkdir(parents=True, exist_ok=True)
            with open(log, "a") as f:
                f.write(" ".join(cmd[1:]).replace(sys.executable, ".venv/bin/python") + "\n")
            out = open(job["run_dir"] / "train.log", "w")
            proc = subprocess.Popen(
                cmd,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
            (job["run_dir"] / "queue.pid").write_text(str(proc.pid))
            running.append((job, proc, time.time()))
            print(f"start {job['run_dir'].name}", flush=True)
        time.sleep(5)


def summary(seeds: list[int] | None = None) -> dict:
    """Mean ± std over seeds of the mean-over-novel-sets top-1 and of each set's top-1, per row."""
    table: dict = {}
    for path in sorted(OUT.glob("*/results.json")):
        res = json.loads(path.read_text())
        if seeds is not None and res["seed"] not in seeds:
            continue
        row = table.setdefault(
            res["config"], {"seeds": [], "mean": [], "sets": {}, "wall_s": [], "val": [], "last": []}
        )
        row["seeds"].append(res["seed"])
        row["val"].append(max(h.get("val_top1", float("nan")) for h in res["history"]))
        row["mean"].append(res["mean_over_sets"]["top1_mean"])
        if "last_epoch" in res:  # runs made before the last epoch was scored too have no entry
            row["last"].append(res["last_epoch"]["mean_over_sets"]["top1_mean"])
        row["wall_s"].append(res["train_wall_s"])
        for name, s in res["sets"].items():
            row["sets"].setdefault(name, []).append((s["top1_mean"], s["top5_mean"]))
    out = {}
    for name, row in sorted(table.items()):
        out[name] = {
            "seeds": row["seeds"],
            "top1_mean_over_sets": float(np.mean(row["mean"])),
            "top1_std_over_seeds": float(np.std(row["mean"])),
            "train_wall_s_mean": float(np.mean(row["wall_s"])),
            "best_val_top1_mean": float(np.mean(row["val"])),
            "last_epoch_top1_mean_over_sets": float(np.mean(row["last"]))
            if len(row["last"]) == len(row["seeds"])
            else None,
            "sets": {
                k: {
                    "top1": float(np.mean([a for a, _ in v])),
                    "top1_std": float(np.std([a for a, _ in v])),
                    "top5": float(np.mean([b for _, b in v])),
                }
                for k, v in row["sets"].items()
            },
        }
    return out


ROW_TITLES = {
    "baseline": "baseline (no text)",
    "g2l": "+ global-to-local (JID) only",
    "l2g": "+ local-to-global only",
    "full": "full CrossGLG",
}


def markdown(raw_eval: Path | None = None) -> str:
    """The results tables of docs/results.md from the finished runs (and the raw 1-NN eval.json)."""
    s = summary()
    sets = ["msr_action3d", "utkinect", "florence"]
    head = (
        "| encoder | row | seeds | validation (base) | MSR Action3D 1/5/9/13/17 | UTKinect | Florence | "
        "**mean** | train wall s / run |\n|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = []
    if raw_eval is not None and raw_eval.is_file():
        r = json.loads(raw_eval.read_text())
        cells = " | ".join(f"{r['sets'][k]['top1_mean']:.1f} ± {r['sets'][k]['top1_std']:.1f}" for k in sets)
        lines.append(
            f"raw-coordinate 1-NN (no learning; the same for both base configurations): {cells} | "
            f"mean **{r['mean_over_sets']['top1_mean']:.1f}** (± over the 10 exemplar draws)\n"
        )
    for base_key, base in BASES.items():
        lines.append(f"\n**Base = {base}**\n\n" + head)
        for enc, row in ROWS:
            name = f"kinect_{base_key}_{enc}_{row}"
            if name not in s:
                lines.append(f"| {enc} | {ROW_TITLES[row]} | - | not run | | | | | |\n")
                continue
            r = s[name]
            cells = " | ".join(f"{r['sets'][k]['top1']:.1f} ± {r['sets'][k]['top1_std']:.1f}" for k in sets)
            seeds = ",".join(map(str, sorted(r["seeds"])))
            lines.append(
                f"| {enc} | {ROW_TITLES[row]} | {seeds} | {r['best_val_top1_mean']:.1f} | {cells} | "
                f"**{r['top1_mean_over_sets']:.1f} ± {r['top1_std_over_seeds']:.1f}** | "
                f"{r['train_wall_s_mean']:.0f} |\n"
            )
    return "".join(lines)


def per_class(
    base_key: str,
    rows: tuple[str, ...] = ("baseline", "full"),
    encoder: str = "infogcn",
    raw_eval: Path | None = None,
) -> str:
    """Per-class top-1 (mean over seeds and draws) of two rows and the raw 1-NN: where the text helps."""
    cols: dict[str, dict[str, dict[str, float]]] = {}
    for row in rows:
        runs = sorted(OUT.glob(f"kinect_{base_key}_{encoder}_{row}_s*/results.json"))
        acc: dict[str, dict[str, list[float]]] = {}
        for path in runs:
            for set_name, res in json.loads(path.read_text())["sets"].items():
                for cls, v in res["per_class_top1"].items():
                    acc.setdefault(set_name, {}).setdefault(cls, []).append(v)
        cols[row] = {k: {c: float(np.mean(v)) for c, v in d.items()} for k, d in acc.items()}
    if raw_eval is not None and raw_eval.is_file():
        r = json.loads(raw_eval.read_text())
        cols["raw 1-NN"] = {k: v["per_class_top1"] for k, v in r["sets"].items()}
    names = list(cols)
    out = [
        f"| set | class | {' | '.join(names)} | {rows[-1]} - {rows[0]} |",
        "|---|---|" + "---|" * (len(names) + 1),
    ]
    first = cols[rows[0]]
    for set_name in first:
        for cls in first[set_name]:
            vals = [cols[n].get(set_name, {}).get(cls) for n in names]  # None: that column has no runs
            last, base = vals[names.index(rows[-1])], vals[0]
            diff = "-" if last is None or base is None else f"{last - base:+.1f}"
            cells = " | ".join("-" if v is None else f"{v:.1f}" for v in vals)
            out.append(f"| {set_name} | {cls} | {cells} | {diff} |")
    return "\n".join(out)


def gain_points() -> dict[int, dict[str, dict[int, float]]]:
    """Novel-set mean top-1 per seed of the wide bases' two rows, keyed by the base's class count."""
    from crossglg.data.protocols import WIDE_BASE_SIZES

    points: dict[int, dict[str, dict[int, float]]] = {}
    for path in sorted(OUT.glob("kinect_wide*_stgcn_*_s*/results.json")):
        res = json.loads(path.read_text())
        base_key, row = res["config"].split("_")[1], res["config"].rsplit("_", 1)[1]
        n = int(base_key[4:]) if base_key != "wide" else WIDE_BASE_SIZES[-1]
        points.setdefault(n, {}).setdefault(row, {})[res["seed"]] = res["mean_over_sets"]["top1_mean"]
    return points


def main(argv=None) -> int:
    global OUT
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--bases", nargs="+", default=list(BASES), choices=list(BASES))
    p.add_argument("--rows", nargs="+", default=None, help="e.g. infogcn:baseline stgcn:full")
    p.add_argument("--parallel", type=int, default=2)
    p.add_argument("--out", type=Path, default=OUT, help="folder of the runs (default runs/ablation)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="config override passed to every run, e.g. model.alpha_structure=0",
    )
    p.add_argument("--threads", type=int, default=1, help="torch threads per run")
    p.add_argument("--summary", action="store_true", help="print the tables of finished runs and exit")
    p.add_argument(
        "--markdown",
        type=Path,
        metavar="RAW_EVAL_JSON",
        help="print the docs/results.md tables (give the raw 1-NN eval.json) and exit",
    )
    p.add_argument(
        "--plot-gain", type=Path, metavar="PNG", help="plot the text's gain against base size and exit"
    )
    args = p.parse_args(argv)
    OUT = args.out.resolve()
    if args.plot_gain is not None:
        from crossglg.training.plots import plot_text_gain

        points = gain_points()
        for n, by_row in sorted(points.items()):
            print(
                n,
                {
                    row: {s: round(v, 1) for s, v in sorted(seeds.items())}
                    for row, seeds in sorted(by_row.items())
                },
            )
        plot_text_gain(
            points, args.plot_gain, "text guidance against the size of the base (ST-GCN-style 0.25/3)"
        )
        return 0
    if args.markdown is not None:
        print(markdown(args.markdown))
        for base_key in args.bases:
            for encoder in ("infogcn", "stgcn"):
                print(
                    f"\n**Per class, base = {BASES[base_key]}, {encoder}** "
                    "(top-1 %, mean over seeds and draws)\n"
                )
                print(per_class(base_key, encoder=encoder, raw_eval=args.markdown))
        return 0
    if args.summary:
        s = summary()
        (OUT / "summary.json").write_text(json.dumps(s, indent=2))
        for name, row in s.items():
            sets = "  ".join(f"{k} {v['top1']:.1f}±{v['top1_std']:.1f}" for k, v in row["sets"].items())
            last = row["last_epoch_top1_mean_over_sets"]
            print(
                f"{name:36s} seeds {row['seeds']} mean {row['top1_mean_over_sets']:.1f} ± "
                f"{row['top1_std_over_seeds']:.1f}   {sets}"
                + ("" if last is None else f"   last epoch {last:.1f}")
            )
        return 0
    rows = ROWS if args.rows is None else [tuple(r.split(":")) for r in args.rows]
    run_queue(jobs(args.seeds, args.bases, rows), args.parallel, args.threads, args.set)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
