"""The model classes the Trainer, inference and export build, by their config name."""
from __future__ import annotations

from ppugatit.models.description import load
from ppugatit.models.descriptions import DESCRIPTIONS

MODELS = {name: load(d.model_class) for name, d in DESCRIPTIONS.items()}
