"""The official implementations' checkpoint formats: which model a file holds, and its sizes.

Our networks carry the official names, so a checkpoint's network names pick the model and
its tensor shapes give the config (``model.ch``, ``model.n_res``...). The tensor-by-tensor
conversion itself is ``ppugatit/weights/layout.py``, which knows nothing of configs or models.
"""
from __future__ import annotations

from typing import Iterable

from ppugatit.config import build_config, parse_overrides
from ppugatit.errors import CheckpointError
from ppugatit.models.table import MODELS


def model_name_for_networks(names: Iterable[str], source: str) -> str:
    """The ``model.name`` whose official network names are exactly ``names``."""
    names = set(names)
    for name, cls in MODELS.items():
        if set(cls.official_networks) == names:
            return name
    known = "; ".join(f"{name}: {', '.join(cls.official_networks)}"
                      for name, cls in MODELS.items())
    raise CheckpointError(f"{source}: holds the networks {sorted(names)}, which match no model "
                          f"({known})")


def model_for_networks(names: Iterable[str], source: str):
    """The model class whose official network names are exactly ``names``."""
    return MODELS[model_name_for_networks(names, source)]


def config_from_official(checkpoint: dict, source: str = "checkpoint") -> dict:
    """Config overrides (``{"model.name": ..., "model.ch": ...}``) read off an official
    checkpoint's network names and tensor shapes."""
    return model_for_networks(network_names(checkpoint), source).sizes_from_official(checkpoint)


def network_names(checkpoint: dict) -> list[str]:
    """Entries that are state dicts (an official NICE-GAN file also holds optimizers, step)."""
    return [k for k, v in checkpoint.items() if isinstance(v, dict) and v
            and all(hasattr(t, "shape") for t in v.values())]


def model_from_official(checkpoint: dict, source: str, config: str | None = None,
                        overrides: list[str] | None = None):
    """The model matching an official checkpoint, its config read off the tensor shapes."""
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f"{source}: holds a {type(checkpoint).__name__}, not a dict")
    over = config_from_official(checkpoint, source)
    over.update(parse_overrides(overrides or []))
    return MODELS[over["model.name"]](build_config(config, over))
