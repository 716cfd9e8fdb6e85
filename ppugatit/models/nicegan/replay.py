"""NICE-GAN's replay of its official step fixture: the forwards the fixture records, then
one training step from its ``before/`` weights; returns (outputs by fixture key, {after/ key:
why} for updates that are float32 noise in the reference, held to Adam's 2.5 lr bound only).
"""
from __future__ import annotations

import paddle

from ppugatit.replay_steps import step, translation_start


def replay(model, fixture: dict, before: dict) -> tuple[dict, dict]:
    real_A, real_B = translation_start(model, fixture, before)
    out: dict = {}
    with paddle.no_grad():
        names = ("logit_local", "logit_global", "cam_logit", "heatmap", "z")
        results = model.disA(real_A)
        for name, t in zip(names, results):
            out[f"eval_forward/disA/{name}"] = t.numpy()
        out["eval_forward/gen2B/out"] = model.gen2B(results[-1]).numpy()
    out.update(step(model, before, {"A": real_A, "B": real_B}))
    return out, {}
