"""crossglg-build-engine: checkpoint -> ONNX -> TensorRT / TensorRT-RTX engine, in the engine cache.

    crossglg-build-engine                              # default checkpoint, best flavour available here
    crossglg-build-engine --flavour tensorrt-rtx --max-batch 16
    crossglg-build-engine --onnx model-fp16.onnx --flavour tensorrt-rtx

TensorRT-RTX builds ahead of time even without a GPU (finished just in time on the RTX card);
TensorRT proper needs the GPU it will run on.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="crossglg-build-engine", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--checkpoint", default="default", help="checkpoint folder or shipped model name (default, full)"
    )
    parser.add_argument(
        "--onnx", type=Path, help="use this exported ONNX instead of exporting the checkpoint"
    )
    parser.add_argument("--flavour", choices=("auto", "tensorrt", "tensorrt-rtx"), default="auto")
    parser.add_argument("--fp32", action="store_true", help="FP32 engine (default FP16)")
    parser.add_argument("--max-batch", type=int, default=8)
    parser.add_argument("--cache-dir", type=Path, help="engine folder (default: engines/cache or user cache)")
    parser.add_argument("--force", action="store_true", help="rebuild even if a current engine is cached")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")

    from engines import EngineBuildError, build_engine, cached_onnx, inspect_engine, manifest_path

    fp16 = not args.fp32
    if args.onnx is not None:
        onnx_path = args.onnx
    else:
        from crossglg.checkpoint import CheckpointError, open_model

        try:
            source = open_model(args.checkpoint)
        except CheckpointError as err:
            raise SystemExit(f"crossglg-build-engine: {err}") from None
        onnx_path = cached_onnx(source, fp16=fp16)
        print(f"ONNX ({'fp16' if fp16 else 'fp32'}): {onnx_path}")
    try:
        engine = build_engine(
            onnx_path,
            flavour=args.flavour,
            fp16=fp16,
            max_batch=args.max_batch,
            cache_root=args.cache_dir,
            force=args.force,
        )
    except EngineBuildError as err:
        print(f"crossglg-build-engine: no engine built:\n{err}", file=sys.stderr)
        print(
            "Inference still works: load_backend('auto') falls back to ONNX Runtime or torch.",
            file=sys.stderr,
        )
        return 2
    manifest = json.loads(manifest_path(engine).read_text())
    key = manifest["key"]
    print(f"engine: {engine} ({engine.stat().st_size / 1e6:.1f} MB)")
    print(
        f"  {key['flavour']} {key['version']}, {key['precision']}, batch 1..{key['max_batch']}, "
        f"target {key['target']}, built in {manifest['build_seconds']} s"
    )
    io = inspect_engine(engine)
    for tensor in io["inputs"] + io["outputs"]:
        print(f"  {tensor['name']}: {tensor['shape']} {tensor['dtype']}")
    print(f"  ({io['source']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
