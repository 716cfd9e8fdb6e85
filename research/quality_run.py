"""The quality benchmark's runs (research/quality_bench.py, tests/test_quality.py): the models'
setting, and a training run that records the paired scores at every evaluation.

Scoring itself is ``ppugatit/metrics/paired.py``, which the evaluator uses; this module drives the
Trainer and so sits above it.
"""
from __future__ import annotations

import numpy as np

from ppugatit.config import build_config
from ppugatit.engine.trainer import Trainer
from ppugatit.models.descriptions import DESCRIPTIONS


def model_overrides(model: str, img_size: int) -> dict:
    """The benchmark's small setting of ``model`` at ``img_size``, as its description says."""
    setting = DESCRIPTIONS[model].quality_setting if model in DESCRIPTIONS else None
    if setting is None:
        raise ValueError(f"the quality bench does not train '{model}'")
    return setting(img_size)


def bench_config(model: str, img_size: int, iterations: int, seed: int, root: str,
                 output_dir: str, eval_interval: int, lr: float, threads: int = 0,
                 extra: dict | None = None):
    """The Trainer config of one benchmark run: official optimiser settings except ``lr``,
    paired evaluation every ``eval_interval`` iterations, no samples, one save at the end."""
    over = model_overrides(model, img_size)
    over.update({"dataset.root": root, "dataset.paired_test": True, "dataset.num_workers": 0,
                 "optimizer.lr": lr, "train.iterations": iterations, "train.seed": seed,
                 "train.eval_interval": eval_interval, "train.log_interval": 100,
                 "train.sample_interval": 10 ** 9, "train.save_interval": 10 ** 9,
                 "train.keep_checkpoints": 1, "train.cpu_threads": threads,
                 "output_dir": output_dir})
    over.update(extra or {})
    return build_config(None, over)


def train_and_score(cfg, outputs: dict | None = None) -> dict[int, dict[str, float]]:
    """Train with the Trainer as a user would and return the paired scores at iteration 0
    (before training) and at every evaluation: ``{iteration: {"l1_A2B": ..., ...}}``; the
    translations scored go to ``outputs[iteration]`` if given."""
    history: dict[int, dict[str, float]] = {}

    class Recording(Trainer):
        def evaluate(self) -> dict[str, float]:
            scores = super().evaluate()
            history[self.iteration] = scores
            if outputs is not None:
                outputs[self.iteration] = dict(self.evaluator.last_outputs)
            return scores

    trainer = Recording(cfg)
    trainer.evaluate()
    trainer.train()
    return history


def initial_weights(cfg) -> dict[str, np.ndarray]:
    """The networks a run of ``cfg`` starts from (the Trainer seeds and builds them as in
    ``train_and_score``), as ``net/param`` arrays in the official names and layout: what
    the official runner's ``--init`` takes, to train the official code from our draw."""
    from ppugatit.weights.layout import model_to_official

    return model_to_official(Trainer(cfg).model)
