"""crossglg-eval: one-shot evaluation of a checkpoint on a protocol's novel sets.

Writes eval.json (top-1 / top-5 mean ± std over exemplar draws, per-class accuracy, confusion matrices, and
for scale the same embedding's 1-NN with 2 / 3 / 5 exemplar subjects and with every other subject),
confusion_<set>.png and tsne_<set>.png into --out.

    crossglg-eval train/configs/kinect_msrc12_msr_full.toml --checkpoint runs/full_s0/checkpoint --out DIR
    crossglg-eval train/configs/kinect_msrc12_msr_full.toml --raw --out DIR    # raw-coordinate 1-NN
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="crossglg-eval", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("config", help="experiment TOML naming the protocol (data.protocol, data.base)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", help="checkpoint folder or shipped model name (default, full)")
    src.add_argument("--raw", action="store_true", help="raw-coordinate cosine 1-NN baseline, no model")
    p.add_argument("--out", type=Path, help="folder for eval.json and the PNGs (required to evaluate)")
    p.add_argument("--data-root", help="data folder (overrides data.root)")
    p.add_argument("--draws", type=int, help="number of seeded exemplar draws (overrides data.draws)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override")
    p.add_argument("--no-figures", action="store_true", help="numbers only")
    p.add_argument(
        "--jid-figure",
        type=Path,
        metavar="PNG",
        help="instead of evaluating: draw the checkpoint's JID joint importance for --jid-classes",
    )
    p.add_argument("--jid-classes", default="", help="comma-separated training class names for --jid-figure")
    p.add_argument(
        "--open-set",
        action="store_true",
        help="instead: open-set evaluation (half the classes enrolled, every class queried) on "
        "the validation and novel sets -> openset.json, openset.png (crossglg.openset)",
    )
    p.add_argument(
        "--no-action",
        choices=("model", "off"),
        default="model",
        help="--open-set: the model's no-action examples as background for every gallery (as in the app), "
        "or not",
    )
    args = p.parse_args(argv)

    from crossglg.training.config import ConfigError, load_config

    overrides = list(args.set)
    if args.data_root:
        overrides.append(f'data.root="{args.data_root}"')
    if args.draws is not None:
        overrides.append(f"data.draws={args.draws}")
    try:
        cfg = load_config(args.config, overrides)
    except ConfigError as exc:
        print(f"crossglg-eval: {exc}", file=sys.stderr)
        return 2
    if args.checkpoint is not None:
        from crossglg.checkpoint import CheckpointError, resolve_checkpoint

        try:
            args.checkpoint = resolve_checkpoint(args.checkpoint)
        except CheckpointError as exc:
            print(f"crossglg-eval: {exc}", file=sys.stderr)
            return 2

    if args.jid_figure is not None:
        from crossglg.training.experiment import draw_joint_importance

        if args.checkpoint is None or not args.jid_classes:
            print("crossglg-eval: --jid-figure needs --checkpoint and --jid-classes", file=sys.stderr)
            return 2
        wanted = [c.strip() for c in args.jid_classes.split(",") if c.strip()]
        print(draw_joint_importance(cfg, args.checkpoint, wanted, args.jid_figure))
        return 0

    from crossglg.training.experiment import evaluate_protocol

    if args.out is None:
        print("crossglg-eval: --out is required", file=sys.stderr)
        return 2
    if args.open_set:
        from crossglg.openset import evaluate_open_set_protocol

        evaluate_open_set_protocol(
            cfg,
            None if args.raw else args.checkpoint,
            args.out,
            figures=not args.no_figures,
            no_action=args.no_action == "model",
        )
        print(f"-> {args.out / 'openset.json'}")
        return 0
    report = evaluate_protocol(
        cfg, None if args.raw else args.checkpoint, args.out, figures=not args.no_figures
    )
    print(
        f"mean over novel sets: top-1 {report['mean_over_sets']['top1_mean']:.2f}  "
        f"top-5 {report['mean_over_sets']['top5_mean']:.2f}  -> {args.out / 'eval.json'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
