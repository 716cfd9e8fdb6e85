"""What a model is, in one place, without building it: the facts the config checker, the
checkpoint readers, the alignment replay, the reproduction kit and the quality bench need.

Each model's folder (``ppugatit/models/<name>/``) holds its description in ``__init__.py``
(light: no Paddle), its networks in ``networks.py`` and its class in ``model.py``; the table
of descriptions is ``ppugatit/models/descriptions.py``, one line per model.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Callable

# official options the U-GAT-IT and NICE-GAN trainers share, as (option, our key, type)
OFFICIAL_SIZES = (("light", "model.light", bool), ("ch", "model.ch", int),
                  ("n_res", "model.n_res", int), ("img_size", "model.img_size", int))
OFFICIAL_TRAINING = (("lr", "optimizer.lr", float),
                     ("weight_decay", "optimizer.weight_decay", float),
                     ("adv_weight", "loss.adv_weight", float),
                     ("cycle_weight", "loss.cycle_weight", float))


@dataclass(frozen=True)
class Description:
    name: str
    # the class, as "module:Class" (importing it needs Paddle; the description does not)
    model_class: str
    # config sections this model adds to the common ones (ppugatit/defaults.py): every key
    # a config may set for it, with its default
    defaults: dict
    # the official checkpoints' network names: they pick the model of a foreign file
    official_networks: tuple
    # the official code's options as an alignment fixture records them (config/<option>):
    # (official option, our key, type[, default for fixtures that lack it])
    official_options: tuple = ()
    # our settings that the official code has no option for, at their official values
    official_fixed: dict = field(default_factory=dict)
    # the official fixtures (tests/fixtures) the reproduction kit replays: one training
    # step, and a multi-step trajectory (None where the official trainer was not recorded)
    step_fixture: str | None = None
    trajectory_fixture: str | None = None
    # its replay of the step fixture (ppugatit/models/<name>/replay.py), as "module:function"
    replay: str | None = None
    # the quality bench's small setting at an image size (research/quality_bench.py), None
    # for a model the bench does not train
    quality_setting: Callable[[int], dict] | None = None


def load(path: str):
    """The object a description names as "module:name" (importing it may need Paddle)."""
    module, name = path.split(":")
    return getattr(importlib.import_module(module), name)
