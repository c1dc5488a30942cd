"""Encoder registry: CrossGLG is plug-and-play, so the backbone is picked by name from a config."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


class Encoder(nn.Module):
    """The interface CrossGLG uses on a backbone (see :func:`register_encoder`); encoders subclass it."""

    feature_dim: int  # C, the channels of the joint features
    embed_dim: int  # D, the width of the embedding

    def features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, C_in, T, V, M) -> joint features (N, C, T', V) and body weights (N, M)."""
        raise NotImplementedError

    def pool(self, feats: torch.Tensor) -> torch.Tensor:
        """Joint features (N, C, T', V) -> (N, C), what :meth:`head` gets: their mean over time and joints,
        unless the encoder keeps more of where the features were."""
        return feats.mean(dim=(2, 3))

    def head(self, pooled: torch.Tensor) -> dict[str, torch.Tensor]:
        """Pooled features (N, C) -> dict with at least ``embedding`` (N, D)."""
        raise NotImplementedError

    def extra_losses(self, out: dict[str, torch.Tensor], labels: torch.Tensor) -> dict[str, torch.Tensor]:
        """The encoder's own training terms (name -> scalar tensor)."""
        raise NotImplementedError


_ENCODERS: dict[str, Callable[..., Encoder]] = {}


def register_encoder(name: str) -> Callable[[Callable[..., Encoder]], Callable[..., Encoder]]:
    """Decorator adding an encoder class (or factory) under ``name``.

    build_model calls it with the keywords in ``crossglg.models.COMMON_ENCODER_ARGS`` plus the config's
    ``encoder_options``; it takes no ``**kwargs``, so a misspelt option fails, naming the key.
    An encoder must provide ``features(x) -> (joint_feats (N, C, T', V), body_weights (N, M))``,
    ``head(pooled (N, C)) -> dict`` with at least ``embedding`` (N, D), attributes ``feature_dim``
    (C) and ``embed_dim`` (D), and ``extra_losses(out, labels) -> dict`` for its own training terms.
    :class:`Encoder` states this interface; encoders subclass it.
    """

    def decorate(factory: Callable[..., Encoder]) -> Callable[..., Encoder]:
        if name in _ENCODERS:
            raise ValueError(f"encoder {name!r} is already registered")
        _ENCODERS[name] = factory
        return factory

    return decorate


def list_encoders() -> list[str]:
    return sorted(_ENCODERS)


def get_encoder(name: str) -> Callable[..., Encoder]:
    try:
        return _ENCODERS[name]
    except KeyError:
        raise KeyError(f"unknown encoder {name!r}; registered: {', '.join(list_encoders())}") from None
