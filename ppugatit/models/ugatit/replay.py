"""U-GAT-IT's replay of its official step fixture: the forwards the fixture records, then
one training step from its ``before/`` weights; returns (outputs by fixture key, {after/ key:
why} for updates that are float32 noise in the reference, held to Adam's 2.5 lr bound only).
"""
from __future__ import annotations

import paddle

from ppugatit.replay_steps import step, translation_start
from ppugatit.weights.layout import paddle_to_official


def replay(model, fixture: dict, before: dict) -> tuple[dict, dict]:
    real_A, real_B = translation_start(model, fixture, before)
    out: dict = {}
    with paddle.no_grad():
        for net in ("genA2B", "disGA", "disLA"):
            logit, cam_logit, heatmap = model.networks[net](real_A)
            for name, t in (("out", logit), ("cam_logit", cam_logit), ("heatmap", heatmap)):
                out[f"eval_forward/{net}/{name}"] = t.numpy()
        model.disGA.train()  # a training-mode forward: one power iteration moves u, v
        out["train_forward/disGA/out"] = model.disGA(real_A)[0].numpy()
        for name, t in paddle_to_official(model.disGA).items():
            if name.endswith(("weight_u", "weight_v")):
                out[f"train_forward/disGA/{name}"] = t
    out.update(step(model, before, {"A": real_A, "B": real_B}))
    return out, {}
