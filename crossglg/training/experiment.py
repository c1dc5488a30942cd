"""What ``crossglg-train`` and ``crossglg-eval`` do, as functions (the ``train/`` scripts only parse flags).

A run folder holds: ``config.toml``-equivalent ``config.json``, ``metrics.csv``, ``tb/`` (TensorBoard),
``train_state.pt`` (resumable state), ``checkpoint/`` (the model picked on the validation split, in the
library's checkpoint format) and ``results.json`` (one-shot numbers on the novel sets).
"""

from __future__ import annotations

import platform
import subprocess
import time
from pathlib import Path

import numpy as np
import torch

from crossglg.io import atomic_write_json
from crossglg.training.ddp import init_distributed, shutdown_distributed
from crossglg.training.metrics import (
    NovelSet,
    evaluate_embeddings,
    evaluate_sets,
    more_shots_top1,
    raw_window_embeddings,
)
from crossglg.training.trainer import Trainer, WindowDataset, pick_device, seed_everything


def cpu_name() -> str:
    """The processor's model name (Linux), for the machine line that every recorded figure carries."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_description() -> dict:
    import os

    info = {
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def git_revision() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=Path(__file__).parent,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def model_config(cfg: dict, num_classes: int) -> dict:
    return {**cfg["model"], "num_classes": num_classes, "num_frames": cfg["data"]["num_frames"]}


def make_augmenter(cfg: dict):
    aug = dict(cfg["augment"])
    aug.pop("twin_labels", None)  # the labels' business: WindowDataset's mirror_to
    if not aug.pop("enabled", True):
        return None
    from crossglg.skeleton.augment import Augmenter

    return Augmenter(**aug)


def no_action_exemplars(data) -> np.ndarray | None:
    """The "no action" class's training windows, kept with the checkpoint; None when the protocol has
    no such class."""
    from crossglg.data.readers import NO_ACTION

    if NO_ACTION not in data.class_names:
        return None
    return data.train_windows[data.train_labels == data.class_names.index(NO_ACTION)]


def train_experiment(cfg: dict, run_dir: Path, resume: bool = True, log=print) -> dict:
    """Trains one config; returns the final results (validation-selected checkpoint on the novel sets)."""
    from crossglg.checkpoint import save_checkpoint
    from crossglg.models import build_model
    from crossglg.skeleton.augment import mirror_labels
    from crossglg.text.encoder import text_features
    from crossglg.training.data import prepare_data

    run_dir = Path(run_dir)
    device = pick_device(cfg["train"]["device"])
    dist_info = init_distributed(device.type)
    try:
        if cfg["train"]["threads"]:
            torch.set_num_threads(int(cfg["train"]["threads"]))
        seed_everything(cfg["seed"] + dist_info.rank * 0)  # same init on every rank; DDP also broadcasts
        t_start = time.perf_counter()
        data = prepare_data(cfg)
        uses_text = bool(cfg["model"].get("g2l", True) or cfg["model"].get("l2g", True))
        text = None
        if uses_text:
            text = text_features(
                data.descriptions, cfg["text"]["encoder"], smoothing=cfg["text"]["target_smoothing"]
            )
        seed_everything(cfg["seed"])
        model = build_model(model_config(cfg, len(data.class_names)))
        if dist_info.is_main:
            run_dir.mkdir(parents=True, exist_ok=True)
            atomic_write_json(run_dir / "config.json", cfg)
            log(
                f"{cfg['name']}: {len(data.train_labels)} training windows, {len(data.class_names)} classes, "
                f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f}M parameters, device {device}, "
                f"world size {dist_info.world_size}; data ready in {time.perf_counter() - t_start:.1f}s"
            )
        bodies = int(cfg["data"]["train_bodies"])
        train_set = WindowDataset(
            data.train_windows[..., :bodies],
            data.train_labels,
            make_augmenter(cfg),
            seed=cfg["seed"],
            mirror_to=mirror_labels(data.class_names) if cfg["augment"]["twin_labels"] else None,
        )
        manifest = {**data.manifest, "config_name": cfg["name"], "seed": cfg["seed"], "git": git_revision()}

        no_action = no_action_exemplars(data)

        def on_best(core, metrics):
            save_checkpoint(
                run_dir / "checkpoint",
                core,
                classes=data.class_names,
                data_manifest=manifest,
                metrics=metrics,
                no_action=no_action,
            )

        trainer = Trainer(
            cfg,
            model,
            train_set,
            text,
            run_dir,
            val_sets=data.val_sets,
            dist_info=dist_info,
            on_best=on_best,
            log=log,
        )
        t_train = time.perf_counter()
        history = trainer.fit(resume=resume)
        train_s = time.perf_counter() - t_train
        if not dist_info.is_main:
            return {}
        results = {
            "config": cfg["name"],
            "seed": cfg["seed"],
            "train_wall_s": train_s,
            "machine": machine_description(),
            "world_size": dist_info.world_size,
            "history": history,
        }
        if data.test_sets:
            results.update(evaluate_checkpoint_on(run_dir / "checkpoint", data.test_sets, device))
            # The selected epoch is the best of many noisy validation scores; the last epoch is what a
            # run without a validation split (the shipped model) keeps, so both are reported.
            # Scored through the library's Embedder, as the checkpoint is: raw rows and unit rows round
            # differently and can flip a near tie.
            from crossglg.oneshot import Embedder

            last = evaluate_sets(Embedder(trainer.core).embed, data.test_sets)
            results["last_epoch"] = {"epoch": history[-1]["epoch"], **last}
        atomic_write_json(run_dir / "results.json", results)
        return results
    finally:
        shutdown_distributed()


def embed_fn_for_checkpoint(checkpoint: Path, device: torch.device | None = None):
    """The library's one-shot Embedder (L2-normalised skeleton-branch embeddings) for a checkpoint."""
    from crossglg.embedding import TorchBackend
    from crossglg.oneshot import Embedder

    return Embedder(TorchBackend.from_checkpoint(checkpoint, device=device)).embed


def evaluate_checkpoint_on(checkpoint: Path, sets: list[NovelSet], device=None) -> dict:
    embed = embed_fn_for_checkpoint(checkpoint, device)
    return evaluate_sets(embed, sets)


def evaluate_protocol(
    cfg: dict, checkpoint: Path | None, out_dir: Path, figures: bool = True, log=print
) -> dict:
    """One-shot evaluation of a checkpoint (or the raw-coordinate 1-NN baseline when ``checkpoint`` is None)
    on the config's novel sets: JSON of all numbers, confusion-matrix and t-SNE PNGs per set."""
    from crossglg.training.data import prepare_data

    t0 = time.perf_counter()
    data = prepare_data(cfg, need_train=False)
    embed = raw_window_embeddings if checkpoint is None else embed_fn_for_checkpoint(checkpoint)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = {
        "checkpoint": str(checkpoint) if checkpoint else "raw-1nn",
        "config": cfg["name"],
        "protocol": cfg["data"]["protocol"],
        "base": cfg["data"]["base"],
        "sets": {},
        "machine": machine_description(),
    }
    for s in data.test_sets:
        emb = embed(s.windows)
        res = evaluate_embeddings(emb, s)
        if s.subjects is not None:
            res["more_shots_top1"] = more_shots_top1(emb, s)
        report["sets"][s.name] = res
        log(
            f"{s.name}: top-1 {res['top1_mean']:.1f} ± {res['top1_std']:.1f}  "
            f"top-5 {res['top5_mean']:.1f} ± {res['top5_std']:.1f}  ({res['draws']} draws, "
            f"{res['num_queries']} queries)"
        )
        if "more_shots_top1" in res:
            log(
                "  with more examples: "
                + ", ".join(
                    f"{'all other subjects' if k == 'all' else k + '-shot'} {v:.1f}"
                    for k, v in res["more_shots_top1"].items()
                )
            )
        if figures:
            from crossglg.training.plots import plot_confusion, plot_embedding_map

            safe = s.name.replace("/", "_").replace(" ", "_")
            plot_confusion(
                np.array(res["confusion"]),
                s.class_names,
                out_dir / f"confusion_{safe}.png",
                title=f"{s.name}: one-shot confusion, {res['draws']} draws",
            )
            queries = np.unique(np.concatenate([ep.queries for ep in s.episodes]))
            plot_embedding_map(
                emb[queries],
                s.labels[queries],
                s.class_names,
                out_dir / f"tsne_{safe}.png",
                title=f"{s.name}: t-SNE of query embeddings",
            )
    sets = report["sets"].values()
    report["mean_over_sets"] = {k: float(np.mean([r[k] for r in sets])) for k in ("top1_mean", "top5_mean")}
    shared = set.intersection(*(set(r.get("more_shots_top1", {})) for r in sets)) if sets else set()
    if shared:
        report["mean_over_sets"]["more_shots_top1"] = {
            k: float(np.mean([r["more_shots_top1"][k] for r in sets])) for k in sorted(shared)
        }
    report["eval_wall_s"] = time.perf_counter() - t0
    atomic_write_json(out_dir / "eval.json", report)
    return report


__all__ = ["evaluate_protocol", "train_experiment"]


def joint_importance_by_class(
    model, windows: np.ndarray, labels: np.ndarray, class_names: list[str], wanted: list[str]
) -> dict[str, np.ndarray]:
    """Mean JID importance (25,) over the samples of each wanted class (where the skeleton branch looks)."""
    from crossglg.embedding import eval_mode, run_batches

    if getattr(model, "jid", None) is None:
        raise ValueError("this model has no JID module (g2l = false): no joint importance to draw")
    missing = [w for w in wanted if w not in class_names]
    if missing:
        raise KeyError(
            f"classes {missing} not in the checkpoint's classes ({len(class_names)}: "
            f"{', '.join(class_names[:8])}, ...)"
        )

    def importance(x: torch.Tensor) -> torch.Tensor:
        return model.jid(model.encoder.features(x)[0])

    device = next(model.parameters()).device
    with eval_mode(model):
        return {
            name: run_batches(importance, windows[labels == class_names.index(name)], device).mean(axis=0)
            for name in wanted
        }


def draw_joint_importance(cfg: dict, checkpoint: Path, wanted: list[str], path: Path) -> Path:
    """The docs figure: JID importance of a few training classes of ``checkpoint``, drawn on the skeleton."""
    from crossglg.checkpoint import load_checkpoint
    from crossglg.training.data import prepare_data
    from crossglg.training.plots import plot_joint_importance

    ckpt = load_checkpoint(checkpoint)
    data = prepare_data(cfg)
    if list(data.class_names) != ckpt.classes:
        raise ValueError(
            f"{checkpoint}: its classes differ from the training classes of config "
            f"{cfg['name']!r}; pass the config the checkpoint was trained with"
        )
    imps = joint_importance_by_class(ckpt.model, data.train_windows, data.train_labels, ckpt.classes, wanted)
    return plot_joint_importance(imps, path, title=f"JID joint importance ({checkpoint.name})")


def ship_checkpoint(run_dir: Path, dest: Path, notes: str = "") -> Path:
    """Copies a run's selected checkpoint into ``dest`` (e.g. resources/models/crossglg_default) together
    with the experiment config and the per-epoch metrics, atomically (readers never see half a model)."""
    import shutil

    from crossglg.checkpoint import NO_ACTION_FILE, atomic_directory, load_checkpoint, read_no_action

    run_dir, dest = Path(run_dir), Path(dest)
    load_checkpoint(run_dir / "checkpoint")  # refuse to ship something that does not load
    names = ["model.safetensors", "config.json"]
    if read_no_action(run_dir / "checkpoint") is not None:  # likewise a broken no-action file
        names.append(NO_ACTION_FILE)
    with atomic_directory(dest) as tmp:
        for name in names:
            shutil.copy2(run_dir / "checkpoint" / name, tmp / name)
        shutil.copy2(run_dir / "config.json", tmp / "train_config.json")
        shutil.copy2(run_dir / "metrics.csv", tmp / "train_metrics.csv")
        if notes:
            (tmp / "README.md").write_text(notes)
    return dest
