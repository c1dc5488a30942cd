"""The training loop: SGD + Nesterov with warm-up and decay, AMP on CUDA, DDP, CSV/TensorBoard logs,
a resumable training state every epoch and model selection on the base-class validation split.

Determinism: every random choice of epoch ``e`` (shuffle order, augmentation of sample ``i``) is drawn from
generators seeded by ``(seed, e[, i])``, so a resumed run continues exactly as an uninterrupted one would.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, fields, is_dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from crossglg.embedding import TorchBackend
from crossglg.io import atomic_open, atomic_write_text
from crossglg.training.ddp import DistInfo, all_reduce_mean, barrier
from crossglg.training.metrics import NovelSet, evaluate_sets

if TYPE_CHECKING:
    from crossglg.models import CrossGLG
    from crossglg.skeleton.augment import Augmenter

STATE_FILE = "train_state.pt"


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def pick_device(requested: str = "auto") -> torch.device:
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(requested)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"train.device = {requested!r} but CUDA is not available on this machine")
    return device


class WindowDataset(Dataset):
    """Precomputed canonical windows, augmented on the fly with a per-(seed, epoch, index) generator.
    ``mirror_to``: the label a mirrored window of each class takes (:func:`mirror_labels`; -1: never
    mirrored); None: every class keeps its label."""

    def __init__(
        self,
        windows: np.ndarray,
        labels: np.ndarray,
        augment: Augmenter | None = None,
        seed: int = 0,
        mirror_to: np.ndarray | None = None,
    ):
        if len(windows) != len(labels):
            raise ValueError(f"{len(windows)} windows but {len(labels)} labels")
        self.windows = np.ascontiguousarray(windows, dtype=np.float32)
        self.labels = np.asarray(labels, dtype=np.int64)
        self.augment = augment
        self.seed = seed
        self.epoch = 0
        self.mirror_to = None if mirror_to is None else np.asarray(mirror_to, dtype=np.int64)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        window, label = self.windows[i], int(self.labels[i])
        if self.augment is not None:
            rng = np.random.default_rng([self.seed, self.epoch, int(i)])
            twin = label if self.mirror_to is None else int(self.mirror_to[label])
            window, mirrored = self.augment.augment(window, rng, may_mirror=twin >= 0)
            window = np.ascontiguousarray(window, dtype=np.float32)
            label = twin if mirrored else label
        return torch.from_numpy(window), label


def lr_at(step: int, steps_per_epoch: int, optim_cfg: dict) -> float:
    """Linear warm-up over ``warmup_epochs``, then cosine (or step) decay to ``min_lr`` at the last epoch."""
    base, epochs = float(optim_cfg["lr"]), int(optim_cfg["epochs"])
    warmup = float(optim_cfg["warmup_epochs"]) * steps_per_epoch
    total = epochs * steps_per_epoch
    if warmup > 0 and step < warmup:
        return base * (step + 1) / warmup
    if optim_cfg["schedule"] == "step":
        passed = sum(step >= m * steps_per_epoch for m in optim_cfg["milestones"])
        return base * optim_cfg["gamma"] ** passed
    progress = min(1.0, (step - warmup) / max(1.0, total - warmup))
    lo = float(optim_cfg["min_lr"])
    return lo + 0.5 * (base - lo) * (1.0 + math.cos(math.pi * progress))


def text_to(text, device: torch.device):
    """Moves a TextFeatures-like dataclass (or dict) of tensors to ``device``."""
    if text is None:
        return None
    if hasattr(text, "to"):
        return text.to(device)
    if is_dataclass(text) and not isinstance(text, type):
        return replace(text, **{f.name: _move(getattr(text, f.name), device) for f in fields(text)})
    if isinstance(text, dict):
        return {k: _move(v, device) for k, v in text.items()}
    raise TypeError(f"cannot move text features of type {type(text).__name__} to {device}")


def _move(value, device):
    return value.to(device) if isinstance(value, torch.Tensor) else value


@dataclass
class EpochLog:
    epoch: int
    lr: float
    terms: dict[str, float]
    samples_per_s: float
    epoch_s: float
    val: dict[str, float]


class Trainer:
    """Runs ``cfg['optim']['epochs']`` epochs of ``model`` on ``train_set``; writes everything to ``run_dir``.

    ``model`` is a CrossGLG module (``model(x, labels=, text=)`` + ``model.loss(out, labels, text)``);
    ``on_best(model, metrics)`` is called on the main rank whenever validation improves (it saves the
    shippable checkpoint); ``val_sets`` are one-shot sets built from held-out base data.
    """

    def __init__(
        self,
        cfg: dict,
        model: CrossGLG,
        train_set: WindowDataset,
        text,
        run_dir: Path,
        val_sets: list[NovelSet] | None = None,
        dist_info: DistInfo | None = None,
        on_best: Callable[[CrossGLG, dict], None] | None = None,
        log: Callable = print,
    ):
        self.cfg, self.run_dir = cfg, Path(run_dir)
        self.dist = dist_info or DistInfo()
        self.device = pick_device(cfg["train"]["device"])
        if self.device.type == "cuda" and self.dist.enabled:
            self.device = torch.device("cuda", self.dist.local_rank)
        amp = cfg["train"]["amp"]
        self.use_amp = self.device.type == "cuda" if amp == "auto" else bool(amp)
        if self.use_amp and self.device.type != "cuda":
            raise RuntimeError("train.amp = true needs CUDA; use amp = 'auto' on CPU")
        self.core = model.to(self.device)  # the undecorated module: loss(), skeleton_branch(), state_dict()
        self.model: torch.nn.Module = self.core  # what runs the batches: the core, or DDP around it
        if self.dist.enabled:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.model = torch.nn.parallel.DistributedDataParallel(
                self.model, device_ids=ids, find_unused_parameters=True
            )
        self.train_set = train_set
        self.text = text_to(text, self.device)
        self.val_sets = val_sets or []
        self.on_best = on_best
        self.log = log if self.dist.is_main else (lambda *a, **k: None)
        o = cfg["optim"]
        self.batch_size = int(o["batch_size"])
        if self.batch_size % self.dist.world_size:
            raise ValueError(
                f"optim.batch_size {self.batch_size} is not divisible by {self.dist.world_size} ranks"
            )
        decay: list[torch.nn.Parameter] = []
        no_decay: list[torch.nn.Parameter] = []
        for name, p in self.core.named_parameters():
            if p.requires_grad:
                (no_decay if p.ndim <= 1 or name.endswith(".bias") else decay).append(p)
        self.optimizer = torch.optim.SGD(
            [
                {"params": decay, "weight_decay": float(o["weight_decay"])},
                {"params": no_decay, "weight_decay": 0.0},
            ],
            lr=float(o["lr"]),
            momentum=float(o["momentum"]),
            nesterov=bool(o["nesterov"]),
        )
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp)
        self.start_epoch, self.best = 0, -math.inf
        self.history: list[dict[str, Any]] = []

    # ---------------------------------------------------------------- state
    def state_path(self) -> Path:
        return self.run_dir / STATE_FILE

    def save_state(self, epoch: int) -> None:
        if not self.dist.is_main:
            return
        with atomic_open(self.state_path(), "wb") as f:
            torch.save(
                {
                    "epoch": epoch,
                    "best": self.best,
                    "history": json.dumps(self.history),
                    "model": self.core.state_dict(),
                    "optimizer": self.optimizer.state_dict(),
                    "scaler": self.scaler.state_dict(),
                    "config": json.dumps(self.cfg),
                },
                f,
            )

    def try_resume(self) -> bool:
        path = self.state_path()
        if not path.is_file():
            return False
        state = torch.load(path, map_location=self.device, weights_only=True)
        saved_cfg = json.loads(state["config"])
        for section in ("model", "optim", "data"):
            if saved_cfg.get(section) != self.cfg.get(section):
                raise RuntimeError(
                    f"{path}: cannot resume, [{section}] differs from the current config "
                    f"(saved {saved_cfg.get(section)} vs now {self.cfg.get(section)})"
                )
        self.core.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scaler.load_state_dict(state["scaler"])
        self.start_epoch, self.best = int(state["epoch"]) + 1, float(state["best"])
        self.history = json.loads(state["history"])
        self.log(f"resumed from {path} at epoch {self.start_epoch}")
        return True

    # ---------------------------------------------------------------- loop
    def make_loader(self, epoch: int) -> DataLoader:
        self.train_set.set_epoch(epoch)
        per_rank = self.batch_size // self.dist.world_size
        workers = min(int(self.cfg["train"]["num_workers"]), os.cpu_count() or 1)
        common: dict[str, Any] = dict(
            batch_size=per_rank,
            num_workers=workers,
            drop_last=len(self.train_set) > per_rank,
            pin_memory=self.device.type == "cuda",
            persistent_workers=False,
        )
        if self.dist.enabled:
            sampler: DistributedSampler[int] = DistributedSampler(
                self.train_set,
                num_replicas=self.dist.world_size,
                rank=self.dist.rank,
                shuffle=True,
                seed=self.cfg["seed"],
            )
            sampler.set_epoch(epoch)
            return DataLoader(self.train_set, sampler=sampler, **common)
        gen = torch.Generator().manual_seed(self.cfg["seed"] * 100_003 + epoch)
        return DataLoader(self.train_set, shuffle=True, generator=gen, **common)

    def train_epoch(self, epoch: int) -> EpochLog:
        from tqdm import tqdm

        self.model.train()
        # Model-internal randomness (InfoGCN's reparameterisation noise, dropout) restarts from a seed of
        # (seed, epoch, rank), so a resumed run draws exactly what the uninterrupted one drew.
        torch.manual_seed((self.cfg["seed"] * 1_000_003 + epoch) * 64 + self.dist.rank)
        loader = self.make_loader(epoch)
        steps = len(loader)
        max_steps = int(self.cfg["train"]["max_steps_per_epoch"]) or steps
        steps = min(steps, max_steps)
        sums: dict[str, torch.Tensor] = {}
        seen, t0 = 0, time.perf_counter()
        bar = tqdm(
            total=steps,
            desc=f"epoch {epoch + 1}/{self.cfg['optim']['epochs']}",
            leave=False,
            disable=not (self.dist.is_main and self.cfg["train"]["progress"]),
            dynamic_ncols=True,
        )
        lr = 0.0
        for step, (x, y) in enumerate(loader):
            if step >= steps:
                break
            lr = lr_at(epoch * steps + step, steps, self.cfg["optim"])
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            x = x.to(self.device, non_blocking=True)
            y = y.to(self.device, non_blocking=True)
            with torch.autocast(self.device.type, dtype=torch.float16, enabled=self.use_amp):
                out = self.model(x, labels=y, text=self.text)
                total, terms = self.core.loss(out, y, self.text)
            if not torch.isfinite(total):
                raise FloatingPointError(f"epoch {epoch + 1} step {step}: loss is {total.item()} ({terms})")
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(total).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
            seen += len(y) * self.dist.world_size
            logged: dict[str, torch.Tensor | float] = {"total": total, **terms}
            for k, v in logged.items():
                v = v.detach().float() if isinstance(v, torch.Tensor) else torch.tensor(float(v))
                sums[k] = sums.get(k, 0.0) + v * len(y)
            rate = seen / (time.perf_counter() - t0)
            bar.set_postfix({k: f"{float(v):.3f}" for k, v in logged.items()} | {"samples/s": f"{rate:.0f}"})
            bar.update(1)
        bar.close()
        elapsed = time.perf_counter() - t0
        names = sorted(sums)
        local_n = seen / self.dist.world_size
        vec = torch.stack([sums[k].to(self.device) / max(local_n, 1) for k in names])
        vec = all_reduce_mean(vec, self.dist).cpu()
        return EpochLog(
            epoch=epoch + 1,
            lr=lr,
            terms=dict(zip(names, vec.tolist(), strict=True)),
            samples_per_s=seen / elapsed,
            epoch_s=elapsed,
            val={},
        )

    def embed(self, windows: np.ndarray) -> np.ndarray:
        """Raw skeleton-branch embeddings of the model as it is now, on the training device."""
        return TorchBackend(self.core)(windows)

    def validate(self) -> dict[str, float]:
        if not self.val_sets:
            return {}
        self.model.eval()
        res = evaluate_sets(self.embed, self.val_sets)
        mean = res["mean_over_sets"]
        return {"val_top1": mean["top1_mean"], "val_top5": mean["top5_mean"]}

    def fit(self, resume: bool = True) -> list[dict]:
        if resume:
            self.try_resume()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        writer = None
        if self.dist.is_main:
            from torch.utils.tensorboard import SummaryWriter

            writer = SummaryWriter(str(self.run_dir / "tb"), purge_step=self.start_epoch + 1)
        epochs = int(self.cfg["optim"]["epochs"])
        select = self.cfg["train"]["select_metric"]
        for epoch in range(self.start_epoch, epochs):
            entry = self.train_epoch(epoch)
            last = epoch == epochs - 1
            if self.dist.is_main and ((epoch + 1) % int(self.cfg["train"]["eval_every"]) == 0 or last):
                entry.val = self.validate()
            row = {
                "epoch": entry.epoch,
                "lr": entry.lr,
                **{f"loss_{k}": v for k, v in entry.terms.items()},
                "samples_per_s": entry.samples_per_s,
                "epoch_s": entry.epoch_s,
                **entry.val,
            }
            self.history.append(row)
            if self.dist.is_main:
                assert writer is not None  # made above on the main rank
                self.write_csv()
                for k, v in row.items():
                    if k != "epoch":
                        writer.add_scalar(k.replace("loss_", "loss/"), v, entry.epoch)
                writer.flush()
                score = entry.val.get(select)
                # Without a validation split the last epoch is kept: nothing else may pick it.
                improved = score > self.best if score is not None else True
                if improved:
                    self.best = score if score is not None else self.best
                    if self.on_best is not None:
                        chosen_by = select if score is not None else "last"
                        self.on_best(self.core, {**row, "selected_by": chosen_by})
                val_text = " ".join(f"{k} {v:.2f}" for k, v in entry.val.items())
                self.log(
                    f"epoch {entry.epoch}/{epochs} loss {entry.terms['total']:.4f} lr {entry.lr:.4f} "
                    f"{entry.samples_per_s:.0f} samples/s {entry.epoch_s:.1f}s {val_text}"
                    + (" *" if improved else "")
                )
            self.save_state(epoch)
            barrier(self.dist)
        if writer is not None:
            writer.close()
        return self.history

    def write_csv(self) -> None:
        keys: list[str] = []
        for row in self.history:
            keys += [k for k in row if k not in keys]
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
        w.writeheader()
        w.writerows(self.history)
        atomic_write_text(self.run_dir / "metrics.csv", buf.getvalue())
