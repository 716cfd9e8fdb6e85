"""SAGAN's replay of its official step fixture: the forwards the fixture records, then
one training step from its ``before/`` weights; returns (outputs by fixture key, {after/ key:
why} for updates that are float32 noise in the reference, held to Adam's 2.5 lr bound only).
"""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import paddle

from ppugatit.replay_steps import after_tensors
from ppugatit.weights.layout import paddle_to_official


def float_noise(d_losses: dict) -> dict[str, str]:
    """The parameters whose exact gradient is zero in the step that updates them.

    Adam's first step moves an element by lr * g / (|g| + eps): for a gradient that is
    zero but for float32 rounding (|g| ~ 1e-9 here) that is a random fraction of lr, in the
    reference as in ours. The official code re-run (float64, or float32 with another thread
    count) differs from the fixture on exactly these tensors, by up to 0.6 lr.
    """
    noise = {f"after/G/l{i}.0.module.bias": "bias before a train-mode BatchNorm, which "
             "removes it" for i in range(1, 5)}
    for net in ("G", "D"):
        for attn in ("attn1", "attn2"):
            noise[f"after/{net}/{attn}.key_conv.bias"] = ("shifts all of a query's logits "
                                                         "alike; the softmax removes it")
    # relu(1 - x) = 1 - x for every x below the margin, and so on: all terms active
    active = (abs(float(d_losses["D_loss_real"]) - (1 - float(d_losses["D_out_real"]))) < 1e-6
              and abs(float(d_losses["D_loss_fake"]) - (1 + float(d_losses["D_out_fake"])))
              < 1e-6)
    if active:
        why = "shifts D(real) and D(fake) alike, every hinge term active"
        noise["after/D/attn2.value_conv.bias"] = why
        noise["after/D/last.0.bias"] = why
    return noise


def replay(model, fixture: dict, before: dict) -> tuple[dict, dict]:
    t = {k: paddle.to_tensor(fixture[f"input/{k}"]) for k in ("z_eval", "z_d", "z_g", "real")}
    out: dict = {}
    model.load_weights(before)
    model.eval()
    with paddle.no_grad():
        image, attn1, attn2 = model.G(t["z_eval"])
    out["eval_forward/G/out"] = image.numpy()
    out["eval_forward/G/attn1"] = attn1.numpy()
    out["eval_forward/G/attn2_first_rows"] = attn2[:, :32].numpy()

    model.load_weights(before)
    model.train()
    inputs = SimpleNamespace(real=t["real"], z_d=t["z_d"], z_g=t["z_g"])
    losses = model.update("D", inputs)
    noise = float_noise(losses)
    # D's noise-only parameters: keep our update for their rows, but run the G step with
    # the reference's values, so that G_loss compares G and D rather than float32 noise
    ours_d = paddle_to_official(model.D)
    d_state = model.D.state_dict()
    pinned = [key.split("/", 2)[2] for key in noise if key.startswith("after/D/")]
    for name in pinned:
        paddle.assign(paddle.to_tensor(fixture[f"after/D/{name}"]), d_state[name])
    losses.update(model.update("G", inputs))
    for name in ("D_loss", "G_loss"):
        out[f"step/{name}"] = np.float64(float(losses[name]))
    out.update(after_tensors(model))
    for name in pinned:
        out[f"after/D/{name}"] = ours_d[name]
    return out, noise
