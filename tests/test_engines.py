"""Engines: ONNX export + parity on real NTU windows, ONNX Runtime == torch, the TensorRT-RTX
ahead-of-time build on CPU (engine cache, staleness, I/O tensors), auto choice, GPU execution where
a GPU and TensorRT exist.

The model is the real CrossGLG architecture (the shipped config, random init); exporting with the dynamo
exporter takes a while, so each precision is exported once per module.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

import engines
from crossglg.checkpoint import open_model
from engines import (
    EngineBuildError,
    FlavourUnavailable,
    OnnxRuntimeBackend,
    TunedTorchBackend,
    available_backends,
    build_engine,
    check_parity,
    export_onnx,
    inspect_engine,
    load_backend,
    onnx_metadata,
)
from engines.builders import manifest_path

REPO = Path(__file__).resolve().parents[1]
HAS_RTX = importlib.util.find_spec("tensorrt_rtx") is not None


@pytest.fixture(scope="module")
def model():
    """The architecture the app ships (train/configs/shipped_default.toml), random init."""
    from crossglg.models import DEFAULT_CONFIG, build_model
    from crossglg.training.config import load_config

    torch.manual_seed(0)
    torch.set_num_threads(2)
    section = load_config(REPO / "train" / "configs" / "shipped_default.toml")["model"]
    net = build_model({**{k: v for k, v in section.items() if k in DEFAULT_CONFIG}, "num_classes": 10}).eval()
    # Random-init BatchNorm statistics are 0/1; move them so folding them into Conv is really exercised.
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 1.5)
    return net


@pytest.fixture(scope="module")
def real_windows(data_root):
    from crossglg.data import load_dataset
    from crossglg.skeleton import make_window

    sequences = load_dataset("ntu", data_root)
    windows = np.stack([make_window(seq) for seq in sequences]).astype(np.float32)
    assert windows.shape == (len(sequences), 3, 60, 25, 2) and len(sequences) >= 6
    return windows


@pytest.fixture(scope="module")
def exported(model, tmp_path_factory):
    folder = tmp_path_factory.mktemp("onnx")
    fp32 = export_onnx(model, folder / "branch-fp32.onnx")
    fp16 = export_onnx(model, folder / "branch-fp16.onnx", fp16=True)
    return {"fp32": fp32, "fp16": fp16}


@pytest.fixture()
def isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv(engines.store.CACHE_ENV, str(tmp_path / "cache"))
    return engines.cache_dir()  # the engines' part of the one cache root


# -- export ---------------------------------------------------------------------------------------


def test_export_graph_has_named_io_dynamic_batch_and_metadata(model, exported):
    proto = onnx.load(str(exported["fp32"]))
    opset = next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))
    assert opset >= 17
    (inp,) = proto.graph.input
    (out,) = proto.graph.output
    assert inp.name == "windows" and out.name == "embedding"
    dims = inp.type.tensor_type.shape.dim
    assert dims[0].dim_param and not dims[0].HasField("dim_value"), "batch must be dynamic"
    assert [d.dim_value for d in dims[1:]] == [3, 60, 25, 2]
    assert inp.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert not any(node.domain == "" and node.op_type in ("MultiHeadAttention",) for node in proto.graph.node)
    meta = onnx_metadata(exported["fp32"])
    from crossglg.checkpoint import skeleton_branch_hash

    assert meta["model_hash"] == skeleton_branch_hash(model)
    assert (meta["layout"], meta["T"], meta["precision"]) == ("ntu25", "60", "fp32")
    assert int(meta["embedding_dim"]) == model.embed_dim
    assert onnx_metadata(exported["fp16"])["precision"] == "fp16"
    fp16_inits = {i.data_type for i in onnx.load(str(exported["fp16"])).graph.initializer}
    assert onnx.TensorProto.FLOAT16 in fp16_inits


def test_parity_on_real_windows(model, exported, real_windows):
    fp32 = check_parity(exported["fp32"], model, real_windows)
    assert fp32.ok, str(fp32)
    assert fp32.max_abs_diff <= 1e-4
    fp16 = check_parity(exported["fp16"], model, real_windows)
    assert fp16.ok, str(fp16)
    assert fp16.min_cosine >= 0.999


def test_parity_catches_a_different_model(model, exported, real_windows):
    other = open_model(model)
    other.model_hash = "0" * 64
    with pytest.raises(ValueError, match="exported from model"):
        check_parity(exported["fp32"], other, real_windows)


def test_export_rejects_old_opset(model, tmp_path):
    with pytest.raises(ValueError, match="opset"):
        export_onnx(model, tmp_path / "x.onnx", opset=13)


# -- runtime backends -------------------------------------------------------------------------------


def test_onnxruntime_backend_equals_torch(model, exported, real_windows):
    ort_backend = OnnxRuntimeBackend(exported["fp32"])
    torch_backend = TunedTorchBackend(model, "cpu")
    assert (ort_backend.name, ort_backend.device) == ("onnxruntime", "cpu")
    assert "CPUExecutionProvider" in ort_backend.describe()
    assert "spin off" in ort_backend.describe()  # shared CPU: no busy-waiting threads by default
    assert (ort_backend.dim, ort_backend.model_hash) == (model.embed_dim, torch_backend.model_hash)
    for batch in (real_windows[:1], real_windows):  # batch 1 and 6 through one dynamic-batch graph
        got, want = ort_backend(batch), torch_backend(batch)
        assert got.dtype == np.float32 and got.shape == (len(batch), model.embed_dim)
        np.testing.assert_allclose(got, want, atol=1e-4, rtol=0)


def test_backends_reject_bad_windows(exported):
    backend = OnnxRuntimeBackend(exported["fp32"])
    with pytest.raises(ValueError, match=r"shape \(N, 3, 60, 25, 2\)"):
        backend(np.zeros((2, 3, 50, 25, 2), np.float32))
    bad = np.zeros((3, 3, 60, 25, 2), np.float32)
    bad[2, 0, 5, 3, 0] = np.nan
    with pytest.raises(ValueError, match=r"NaN or inf in batch item\(s\) \[2\]"):
        backend(bad)
    with pytest.raises(TypeError, match="numpy array"):
        backend(torch.zeros(1, 3, 60, 25, 2))
    assert backend(np.zeros((0, 3, 60, 25, 2), np.float32)).shape == (0, backend.dim)


def test_available_backends_lists_every_kind_with_a_reason():
    rows = available_backends()
    assert [name for name, _, _ in rows] == list(engines.AUTO_ORDER)
    assert all(isinstance(ok, bool) and reason for _, ok, reason in rows)
    assert dict((n, ok) for n, ok, _ in rows)["torch-cpu"] is True


def _prime_onnx_cache(cache, model, exported):
    """Place the module's export where load_backend looks, so the test does not pay a second export."""
    target = cache / "onnx" / f"{open_model(model).model_hash[:16]}-fp32.onnx"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(exported["fp32"], target)
    return target


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only choice")
def test_auto_on_cpu_picks_onnxruntime_logs_why_and_feeds_the_embedder(
    model, exported, real_windows, isolated_cache, caplog
):
    from crossglg.oneshot import Embedder

    _prime_onnx_cache(isolated_cache, model, exported)
    with caplog.at_level(logging.INFO, logger="engines"):
        backend = load_backend(model, "auto")
    assert backend.name == "onnxruntime" and backend.device == "cpu"
    log = caplog.text
    assert "auto backend: onnxruntime-cpu" in log
    for skipped in ("tensorrt:", "tensorrt-rtx:", "onnxruntime-cuda:", "torch-cuda:"):
        assert f"skipped {skipped}" in log
    assert "exported" not in log, "the cached ONNX should have been reused"
    via_engine = Embedder(backend).embed(real_windows)
    via_torch = Embedder(model).embed(real_windows)
    np.testing.assert_allclose(via_engine, via_torch, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(via_engine, axis=1), 1.0, atol=1e-5)


def test_shipped_onnx_serves_a_checkpoint_without_its_torch_model(real_windows, tmp_path, isolated_cache):
    """By name or folder, ONNX Runtime runs the graph shipped beside config.json: the weights are never
    read (a copy without model.safetensors serves the same numbers), nothing is exported."""
    from crossglg.checkpoint import DEFAULT_CHECKPOINT, CheckpointError

    if not (DEFAULT_CHECKPOINT / "skeleton_branch-fp32.onnx").is_file():
        pytest.skip("the default checkpoint ships no ONNX")
    source = open_model("default")
    by_name = load_backend(source, "onnxruntime", "cpu")
    assert not source.loaded, "serving the shipped ONNX built the torch model"
    assert (by_name.model_hash, by_name.dim) == (source.model_hash, source.dim)
    weightless = tmp_path / "weightless"
    weightless.mkdir()
    for name in ("config.json", "skeleton_branch-fp32.onnx"):
        shutil.copyfile(DEFAULT_CHECKPOINT / name, weightless / name)
    backend = load_backend(weightless, "onnxruntime", "cpu")
    assert backend.onnx_path == weightless / "skeleton_branch-fp32.onnx"
    np.testing.assert_array_equal(backend(real_windows), by_name(real_windows))
    with pytest.raises(CheckpointError, match="missing model.safetensors"):
        load_backend(weightless, "torch", "cpu")  # torch needs the weights, and says which file is missing
    with pytest.raises(CheckpointError, match="no model checkpoint at .*by name: default, full"):
        load_backend(tmp_path / "nowhere", "onnxruntime", "cpu")
    assert not (isolated_cache / "onnx").exists()


def test_named_backend_that_cannot_run_fails_loudly(model):
    rows = {name: (ok, why) for name, ok, why in available_backends()}
    if rows["tensorrt-rtx"][0]:
        pytest.skip("TensorRT-RTX can run here")
    with pytest.raises(RuntimeError, match="tensorrt-rtx is not available"):
        load_backend(model, "tensorrt-rtx")
    with pytest.raises(ValueError, match="unknown backend kind"):
        load_backend(model, "tflite")


def test_torch_backend_via_load_backend(model, real_windows):
    backend = load_backend(model, "torch", device="cpu")
    assert (backend.name, backend.device) == ("torch", "cpu")
    with torch.inference_mode():
        want = model.skeleton_branch()(torch.from_numpy(real_windows[:2])).numpy()
    np.testing.assert_allclose(backend(real_windows[:2]), want, atol=1e-6)


def test_torch_backends_do_not_share_or_change_the_callers_module(model, real_windows):
    # Found on a GPU: Module.to() acts in place, so a CPU backend built after a CUDA one from the same
    # module pulled the CUDA backend's weights back to the CPU. Each backend must own its copy.
    branch = model.skeleton_branch().train()
    try:
        first, second = TunedTorchBackend(branch, "cpu"), TunedTorchBackend(branch, "cpu")
        assert branch.training, "building a backend put the caller's module into eval mode"
    finally:
        branch.eval()  # the module-scoped fixture stays in eval mode for the other tests
    assert first.branch is not branch and second.branch is not first.branch
    with torch.no_grad():
        next(second.branch.parameters()).add_(1.0)  # changing one backend's weights leaves the other alone
    with torch.inference_mode():
        want = model.skeleton_branch().eval()(torch.from_numpy(real_windows[:2])).numpy()
    np.testing.assert_allclose(first(real_windows[:2]), want, atol=1e-6)


# -- engine builds ---------------------------------------------------------------------------------


@pytest.mark.skipif(not HAS_RTX, reason="tensorrt-rtx wheel not installed (pip install tensorrt-rtx)")
def test_tensorrt_rtx_build_cache_and_io(model, exported, tmp_path):
    engine = build_engine(
        exported["fp16"], flavour="tensorrt-rtx", fp16=True, max_batch=8, cache_root=tmp_path
    )
    assert engine.is_file() and engine.stat().st_size > 100_000
    manifest = manifest_path(engine)
    assert manifest.is_file()
    io = inspect_engine(engine)
    (inp,) = io["inputs"]
    (out,) = io["outputs"]
    assert (inp["name"], inp["shape"], inp["dtype"]) == ("windows", [-1, 3, 60, 25, 2], "FLOAT")
    assert (out["name"], out["shape"], out["dtype"]) == ("embedding", [-1, model.embed_dim], "FLOAT")

    # Cache hit: same file, not rewritten.
    stamp = engine.stat().st_mtime_ns
    assert build_engine(exported["fp16"], flavour="tensorrt-rtx", max_batch=8, cache_root=tmp_path) == engine
    assert engine.stat().st_mtime_ns == stamp

    # A foreign / damaged engine under the same name is rebuilt, not used.
    engine.write_bytes(b"not an engine")
    rebuilt = build_engine(exported["fp16"], flavour="tensorrt-rtx", max_batch=8, cache_root=tmp_path)
    assert rebuilt == engine and engine.stat().st_size > 100_000

    # A different key (max batch) is a different engine.
    other = build_engine(exported["fp16"], flavour="tensorrt-rtx", max_batch=4, cache_root=tmp_path)
    assert other != engine and other.is_file()


@pytest.mark.skipif(not HAS_RTX, reason="tensorrt-rtx wheel not installed")
def test_strongly_typed_builder_wants_fp16_onnx(exported, tmp_path):
    with pytest.raises(EngineBuildError, match="strongly typed.*FP16 ONNX"):
        build_engine(exported["fp32"], flavour="tensorrt-rtx", fp16=True, cache_root=tmp_path)
    fp32_engine = build_engine(exported["fp32"], flavour="tensorrt-rtx", fp16=False, cache_root=tmp_path)
    assert "-fp32-" in fp32_engine.name


def test_build_failures_are_clear(exported, tmp_path):
    with pytest.raises(FileNotFoundError, match="ONNX file not found"):
        build_engine(tmp_path / "missing.onnx", flavour="tensorrt-rtx")
    with pytest.raises(ValueError, match="unknown engine flavour"):
        build_engine(exported["fp16"], flavour="openvino")
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"\x08\x07garbage")
    if HAS_RTX:
        with pytest.raises(EngineBuildError):
            build_engine(broken, flavour="tensorrt-rtx", fp16=False, cache_root=tmp_path)
    if importlib.util.find_spec("tensorrt") is None or not torch.cuda.is_available():
        with pytest.raises(FlavourUnavailable, match="tensorrt"):
            build_engine(exported["fp16"], flavour="tensorrt", cache_root=tmp_path)


# -- GPU execution (skips on CPU machines) -----------------------------------------------------------


def _gpu_flavours() -> list[str]:
    return [name for name, ok, _ in available_backends() if ok and name in ("tensorrt", "tensorrt-rtx")]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU: TensorRT execution needs one")
@pytest.mark.parametrize("flavour", ["tensorrt", "tensorrt-rtx"])
def test_tensorrt_execution_matches_torch(flavour, model, real_windows, isolated_cache):
    if flavour not in _gpu_flavours():
        reason = dict((n, why) for n, _, why in available_backends())[flavour]
        pytest.skip(f"{flavour} cannot run here: {reason}")
    backend = load_backend(model, flavour)
    got = backend(real_windows)  # 6 windows: inside the 1..8 profile
    big = backend(np.concatenate([real_windows] * 3))  # 18 windows: chunked
    want = TunedTorchBackend(model, "cpu")(real_windows)
    cos = (got * want).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(want, axis=1)
    assert cos.min() >= 0.999, cos
    np.testing.assert_allclose(big[:6], got, atol=1e-3)
    assert inspect_engine(backend.engine_path)["source"].startswith("deserialized")


def test_cache_dir_is_in_checkout_or_the_one_cache_root(tmp_path, monkeypatch):
    monkeypatch.delenv(engines.store.CACHE_ENV, raising=False)
    default = engines.cache_dir()
    assert default.name in ("cache", "engines") and default.is_dir()
    monkeypatch.setenv(engines.store.CACHE_ENV, os.fspath(tmp_path / "elsewhere"))
    assert engines.cache_dir() == tmp_path / "elsewhere" / "engines"


# -- scripts ----------------------------------------------------------------------------------------


@pytest.mark.skipif(not HAS_RTX, reason="tensorrt-rtx wheel not installed")
def test_build_engine_script_prints_what_was_built(exported, tmp_path, capsys):
    from train.build_engine import main

    args = ["--onnx", str(exported["fp16"]), "--flavour", "tensorrt-rtx", "--cache-dir", str(tmp_path)]
    assert main(args) == 0
    out = capsys.readouterr().out
    (engine,) = (tmp_path / "tensorrt-rtx").glob("*.engine")
    assert f"engine: {engine}" in out
    assert "windows: [-1, 3, 60, 25, 2] FLOAT" in out and "embedding: [-1, " in out
    assert main([*args[:2], "--flavour", "tensorrt", "--cache-dir", str(tmp_path)]) == (
        0 if "tensorrt" in _gpu_flavours() else 2
    )


def test_export_script_ships_onnx_beside_checkpoint_and_backend_uses_it(
    model, data_root, tmp_path, isolated_cache, capsys, caplog
):
    from crossglg.checkpoint import save_checkpoint, skeleton_branch_hash
    from train.export import main

    checkpoint = save_checkpoint(tmp_path / "ckpt", model, classes=[f"class {i}" for i in range(10)])
    args = ["--checkpoint", str(checkpoint), "--beside-checkpoint", "--precision", "fp32"]
    code = main([*args, "--data", str(data_root)])
    out = capsys.readouterr().out
    assert code == 0, out
    shipped = checkpoint / "skeleton_branch-fp32.onnx"
    assert f"exported fp32: {shipped}" in out
    assert "parity OK (fp32, 6 windows)" in out
    assert onnx_metadata(shipped)["model_hash"] == skeleton_branch_hash(model)

    with caplog.at_level(logging.INFO, logger="engines"):
        backend = load_backend(checkpoint, "onnxruntime", "cpu")
    assert backend.onnx_path == shipped and "exported" not in caplog.text
    assert not (isolated_cache / "onnx").exists(), "nothing should have been exported into the cache"


def test_scripts_take_shipped_model_names(tmp_path, isolated_cache, capsys):
    """--checkpoint default|full|FOLDER in every CLI; a wrong one fails naming the folder and the names."""
    from train.build_engine import main as build_main
    from train.export import main as export_main

    source = open_model("default")
    assert (
        export_main(
            ["--checkpoint", "default", "--out-dir", str(tmp_path), "--precision", "fp32", "--no-parity"]
        )
        == 0
    )
    out = tmp_path / f"{source.model_hash[:16]}-fp32.onnx"
    assert f"exported fp32: {out}" in capsys.readouterr().out
    assert onnx_metadata(out)["model_hash"] == source.model_hash
    for main in (export_main, build_main):
        with pytest.raises(SystemExit, match="no model checkpoint at .*nope.*default, full"):
            main(["--checkpoint", str(tmp_path / "nope")])
