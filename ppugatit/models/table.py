"""The model classes the Trainer, inference and export build, by their config name."""
from __future__ import annotations

import importlib

from ppugatit.models.descriptions import DESCRIPTIONS


def _model_class(path: str) -> type:
    module, name = path.split(":")
    return getattr(importlib.import_module(module), name)


MODELS = {name: _model_class(d.model_class) for name, d in DESCRIPTIONS.items()}
