"""What every model's replay of an official step fixture does (``ppugatit/models/<name>/
replay.py``, run by :func:`ppugatit.alignment.replay`): load the ``before/`` weights, run one
training step, read the networks back in the official names and layout."""
from __future__ import annotations

import numpy as np
import paddle

from ppugatit.weights.layout import model_to_official


def after_tensors(model) -> dict[str, np.ndarray]:
    """Every network's state in the official names and layout, as the ``after/`` keys."""
    return {f"after/{key}": t for key, t in model_to_official(model).items()}


def step(model, before: dict[str, dict], batch: dict) -> dict:
    """One training step from the ``before/`` weights: the ``step/`` losses and ``after/``."""
    model.load_weights(before)
    model.train()
    losses = model.train_step(batch)
    out = {f"step/{name}": np.float64(float(t)) for name, t in losses.items()}
    out.update(after_tensors(model))
    return out


def translation_start(model, fixture: dict,
                       before: dict) -> tuple[paddle.Tensor, paddle.Tensor]:
    """The ``before/`` weights loaded, the model in eval mode, and the two domains' inputs."""
    model.load_weights(before)
    model.eval()
    return tuple(paddle.to_tensor(fixture[f"input/real_{d}"]) for d in "AB")
