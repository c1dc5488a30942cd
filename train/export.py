"""crossglg-export: checkpoint -> ONNX (skeleton branch; FP32 and/or FP16) + parity check on real windows.

crossglg-export                                  # default checkpoint, both precisions, into the cache
crossglg-export --checkpoint full --beside-checkpoint
crossglg-export --checkpoint runs/x/best --out-dir exported/ --precision fp16
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from crossglg.paths import data_root

DEFAULT_DATA = data_root()


def parity_windows(data_root: Path, limit: int = 8) -> np.ndarray:
    """Real NTU RGB+D windows (the 6 raw samples shipped with the project's test data)."""
    from crossglg.data import load_dataset
    from crossglg.skeleton import make_window

    sequences = load_dataset("ntu", data_root)[:limit]
    return np.stack([make_window(seq) for seq in sequences]).astype(np.float32)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="crossglg-export", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--checkpoint", default="default", help="checkpoint folder or shipped model name (default, full)"
    )
    parser.add_argument("--out-dir", type=Path, help="where to write the .onnx files (default: engine cache)")
    parser.add_argument(
        "--beside-checkpoint",
        action="store_true",
        help="write skeleton_branch-<precision>.onnx into the checkpoint folder (shipped with it, so the "
        "app need not export at first start)",
    )
    parser.add_argument("--precision", choices=("fp32", "fp16", "both"), default="both")
    parser.add_argument("--opset", type=int, default=18)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="real data root for the parity check")
    parser.add_argument("--no-parity", action="store_true", help="skip the parity check")
    args = parser.parse_args(argv)

    from crossglg.checkpoint import CheckpointError, open_model
    from engines import SHIPPED_ONNX, cache_dir, check_parity, export_onnx

    try:
        source = open_model(args.checkpoint)
    except CheckpointError as err:
        raise SystemExit(f"crossglg-export: {err}") from None
    if args.beside_checkpoint and args.out_dir:
        raise SystemExit("crossglg-export: --out-dir and --beside-checkpoint exclude each other")
    out_dir = args.out_dir or cache_dir() / "onnx"
    windows = None
    if not args.no_parity:
        if not (args.data / "ntu").is_dir():
            raise SystemExit(
                f"crossglg-export: no real data at {args.data} for the parity check "
                "(pass --data or --no-parity)"
            )
        windows = parity_windows(args.data)
    failed = False
    precisions = ("fp32", "fp16") if args.precision == "both" else (args.precision,)
    for precision in precisions:
        if args.beside_checkpoint:
            assert source.path is not None  # open_model of a name or a folder always has its folder
            out = source.path / SHIPPED_ONNX.format(precision=precision)
        else:
            out = Path(out_dir) / f"{source.model_hash[:16]}-{precision}.onnx"
        export_onnx(source, out, fp16=precision == "fp16", opset=args.opset)
        print(f"exported {precision}: {out} ({out.stat().st_size / 1e6:.1f} MB)")
        if windows is not None:
            report = check_parity(out, source, windows)
            print(f"  {report}")
            failed |= not report.ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
