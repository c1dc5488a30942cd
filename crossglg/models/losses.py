"""CrossGLG training terms (the encoder's own terms live with the encoder)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def calibration_loss(importance: torch.Tensor, targets: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """KL(target || importance), both (N, V) distributions over joints.

    The target comes from the key body parts of the global description; KL in this direction
    penalises JID for missing a named joint more than for spreading some mass elsewhere.
    """
    targets = targets / targets.sum(dim=1, keepdim=True).clamp(min=eps)
    log_p = torch.log(importance.clamp(min=eps))
    log_t = torch.log(targets.clamp(min=eps))
    return (targets * (log_t - log_p)).sum(dim=1).mean()


def consistency_loss(
    skeleton_logits: torch.Tensor, crossmodal_logits: torch.Tensor, temperature: float = 1.0
) -> torch.Tensor:
    """KL(cross-modal || skeleton) on softened class posteriors, the cross-modal side detached.

    One-way on purpose: the text-guided branch teaches the text-free one, which is the only one
    kept at inference; the teacher is not pulled towards the weaker student.
    """
    teacher = F.softmax(crossmodal_logits.detach() / temperature, dim=1)
    log_student = F.log_softmax(skeleton_logits / temperature, dim=1)
    return F.kl_div(log_student, teacher, reduction="batchmean") * temperature**2


def classification_loss(
    logits: torch.Tensor, labels: torch.Tensor, label_smoothing: float = 0.1, margin: float = 0.0
) -> torch.Tensor:
    """Cross-entropy; ``margin`` is taken off each sample's true-class logit first, so that the class
    must win by that much (training only: the logits used elsewhere are left as they are)."""
    if margin:
        logits = logits - margin * F.one_hot(labels, logits.shape[1]).to(logits.dtype)
    return F.cross_entropy(logits, labels, label_smoothing=label_smoothing)


def centred_similarity(x: torch.Tensor) -> torch.Tensor:
    """(N, D) -> (N, N) cosine similarity after removing the batch mean (Pearson-like, in [-1, 1])."""
    x = F.normalize(x - x.mean(dim=0, keepdim=True), dim=1)
    return x @ x.t()


def structure_loss(embedding: torch.Tensor, raw: torch.Tensor) -> torch.Tensor:
    """MSE between the batch's similarity structure in embedding space and in raw-coordinate space.

    Ours, not the paper's: with a few dozen base classes the classification losses keep only what
    separates those classes, and one-shot transfer to whole-body actions suffers (docs/results.md).
    Anchoring the relations between samples to those of the coordinates keeps that information.
    """
    return F.mse_loss(centred_similarity(embedding), centred_similarity(raw.flatten(1)).detach())
