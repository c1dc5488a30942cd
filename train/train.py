"""crossglg-train: train one experiment config (single process, or DDP under ``torchrun``).

crossglg-train train/configs/kinect_msrc12_msr_full.toml --run-dir runs/full_s0 --set seed=1
torchrun --nproc_per_node=2 -m train.train CONFIG --run-dir DIR     # DDP (gloo on CPU, NCCL on CUDA)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="crossglg-train", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("config", help="experiment TOML under train/configs/")
    p.add_argument("--run-dir", type=Path, help="output folder (default runs/<config name>_s<seed>)")
    p.add_argument("--data-root", help="data folder (overrides data.root)")
    p.add_argument("--seed", type=int, help="overrides seed")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, TOML syntax: --set optim.lr=0.1 --set model.g2l=false",
    )
    p.add_argument("--no-resume", action="store_true", help="start over even if the run folder has a state")
    p.add_argument(
        "--ship",
        type=Path,
        metavar="DIR",
        help="afterwards copy the selected checkpoint + config + metrics to DIR "
        "(the default model: resources/models/crossglg_default)",
    )
    args = p.parse_args(argv)

    from crossglg.training.config import ConfigError, load_config

    overrides = list(args.set)
    if args.data_root:
        overrides.append(f'data.root="{args.data_root}"')
    if args.seed is not None:
        overrides.append(f"seed={args.seed}")
    try:
        cfg = load_config(args.config, overrides)
    except ConfigError as exc:
        print(f"crossglg-train: {exc}", file=sys.stderr)
        return 2
    run_dir = args.run_dir or Path("runs") / f"{cfg['name']}_s{cfg['seed']}"

    from crossglg.training.experiment import train_experiment

    results = train_experiment(cfg, run_dir, resume=not args.no_resume)
    if args.ship is not None and results:
        from crossglg.training.experiment import ship_checkpoint

        print(f"shipped to {ship_checkpoint(run_dir, args.ship)}")
    if results and "mean_over_sets" in results:
        print(
            f"{cfg['name']} seed {cfg['seed']}: mean top-1 over novel sets "
            f"{results['mean_over_sets']['top1_mean']:.2f} (selected epoch), "
            f"{results['last_epoch']['mean_over_sets']['top1_mean']:.2f} (last epoch)  "
            f"({run_dir / 'results.json'})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
