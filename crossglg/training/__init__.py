"""Training and one-shot evaluation (used by the ``train/`` scripts): configs, data from the protocols,
the trainer loop with DDP, one-shot metrics and report figures. Import the submodules directly."""

from crossglg.training.config import ConfigError, load_config
from crossglg.training.metrics import (
    Episode,
    NovelSet,
    evaluate_embeddings,
    evaluate_sets,
    raw_window_embeddings,
)

__all__ = [
    "ConfigError",
    "Episode",
    "NovelSet",
    "evaluate_embeddings",
    "evaluate_sets",
    "load_config",
    "raw_window_embeddings",
]
