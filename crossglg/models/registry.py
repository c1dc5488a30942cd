"""Encoder registry: CrossGLG is plug-and-play, so the backbone is picked by name from a config."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

_ENCODERS: dict[str, Callable[..., nn.Module]] = {}


def register_encoder(name: str) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator adding an encoder class (or factory) under ``name``.

    An encoder must provide ``features(x) -> (joint_feats (N, C, T', V), body_weights (N, M))``,
    ``head(pooled (N, C)) -> dict`` with at least ``embedding`` (N, D), attributes ``feature_dim``
    (C) and ``embed_dim`` (D), and ``extra_losses(out, labels) -> dict`` for its own training terms.
    """

    def decorate(factory: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _ENCODERS:
            raise ValueError(f"encoder {name!r} is already registered")
        _ENCODERS[name] = factory
        return factory

    return decorate


def list_encoders() -> list[str]:
    return sorted(_ENCODERS)


def get_encoder(name: str) -> Callable[..., nn.Module]:
    try:
        return _ENCODERS[name]
    except KeyError:
        raise KeyError(f"unknown encoder {name!r}; registered: {', '.join(list_encoders())}") from None
