"""SAGAN: unconditional generation with self-attention, spectral norm, hinge loss and TTUR."""
from __future__ import annotations

import math

import cv2
import numpy as np
import paddle
import paddle.distributed as dist
import paddle.nn as nn

from ppugatit.errors import ConfigError
from ppugatit.losses import hinge_d_loss, hinge_g_loss
from ppugatit.models.base import GANModel, set_requires_grad
from ppugatit.networks.sagan import (IMG_SIZE, Discriminator, Generator, fixed_singular_vectors,
                                     spectral_norms)
from ppugatit.visual import overlay, panel_grid, to_uint8

# where the attention maps are shown: (x, y) as fractions of the feature map, one colour each
QUERY_POINTS = ((0.25, 0.3), (0.5, 0.5), (0.7, 0.75))
QUERY_COLOURS = ((255, 255, 255), (255, 0, 255), (0, 255, 0))
ATTENTION_SAMPLES = 4


class Sampler(nn.Layer):
    """Inference view of the generator: noise ``[N, z_dim]`` in, images in [-1, 1] out.

    Uses the stored singular vectors as they are: the reference would run one more power
    iteration per call, which after training changes nothing visible but would make every call
    modify the weights file's state.
    """

    def __init__(self, generator: Generator):
        super().__init__()
        self.generator = generator

    def forward(self, z: paddle.Tensor) -> paddle.Tensor:
        # not `with fixed_singular_vectors(...)`: to_static turns a context manager into a
        # program region that Paddle Inference cannot load (exported samplers must load)
        layers = spectral_norms(self.generator)
        previous = [m.power_iteration for m in layers]
        for m in layers:
            m.power_iteration = False
        images = self.generator(z)[0]
        for m, flag in zip(layers, previous):
            m.power_iteration = flag
        return images


def _mark(img: np.ndarray, points: list[tuple[int, int]]) -> np.ndarray:
    img = np.ascontiguousarray(img)
    for (x, y), colour in zip(points, QUERY_COLOURS):
        cv2.circle(img, (x, y), max(2, img.shape[0] // 32), colour, 1, lineType=cv2.LINE_AA)
    return img


def _square_grid(images: np.ndarray) -> np.ndarray:
    """NHWC uint8 -> one picture, images in rows of ceil(sqrt(N)), blank-padded."""
    n, h, w, c = images.shape
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    grid = np.zeros((rows * h, cols * w, c), dtype=np.uint8)
    for i in range(n):
        r, col = divmod(i, cols)
        grid[r * h:(r + 1) * h, col * w:(col + 1) * w] = images[i]
    return grid


class SAGAN(GANModel):
    DEFAULTS = {
        "output_dir": "output/sagan",
        "model": {
            "name": "sagan",
            "img_size": IMG_SIZE,
            "conv_dim": 64,
            "z_dim": 128,
        },
        "loss": {"adv_loss": "hinge"},
        "optimizer": {
            "lr": 1e-4,        # the generator's; the two time-scale update rule gives D 4x
            "d_lr": 4e-4,
            "beta1": 0.0,
            "beta2": 0.9,
            "weight_decay": 0.0,
            "decay_flag": False,
        },
    }
    train_folders = {"real": ""}   # every image under dataset.root, sub-folders included
    test_folders: dict = {}
    task = "generation"
    directions = ()
    official_networks = ("G", "D")
    onednn_inference = False  # Paddle 3.3.1's oneDNN transposed convolutions: off by 2e-2

    def __init__(self, cfg):
        super().__init__(cfg)
        m = cfg.model
        if m.img_size != IMG_SIZE:
            raise ConfigError(f"model.img_size must be {IMG_SIZE} for SAGAN (the reference "
                              f"architecture's five up-sampling stages), got {m.img_size}")
        if m.conv_dim < 8:
            raise ConfigError(f"model.conv_dim must be at least 8 (the 32 px attention block "
                              f"projects conv_dim channels to conv_dim/8), got {m.conv_dim}")
        if m.z_dim < 1:
            raise ConfigError(f"model.z_dim must be positive, got {m.z_dim}")
        if cfg.loss.adv_loss != "hinge":
            raise ConfigError(f"loss.adv_loss must be 'hinge' (the SAGAN paper's loss; the "
                              f"reference's wgan-gp is not implemented), got "
                              f"'{cfg.loss.adv_loss}'")
        self.G = Generator(m.z_dim, m.conv_dim)
        self.D = Discriminator(m.conv_dim)
        self.networks = {"G": self.G, "D": self.D}

        opt = cfg.optimizer
        betas = (opt.beta1, opt.beta2)
        self.make_optimizer("G", [self.G], opt.lr, betas, opt.weight_decay)
        self.make_optimizer("D", [self.D], opt.d_lr, betas, opt.weight_decay)

        self.iteration = 0
        self.seed = cfg.train.seed
        self.fixed_z = self._noise(cfg.train.sample_num, 0, 0)

    # ----- noise
    def _noise(self, n: int, iteration: int, k: int) -> paddle.Tensor:
        """z for (iteration, k) on this rank: a pure function of the seed, so resume is exact."""
        rank = dist.get_rank() if dist.is_initialized() else 0
        rng = np.random.default_rng([self.seed, iteration, k, rank])
        return paddle.to_tensor(rng.standard_normal((n, self.cfg.model.z_dim), dtype=np.float32))

    # ----- training
    def d_step(self, real: paddle.Tensor, z: paddle.Tensor) -> dict[str, paddle.Tensor]:
        """The reference's D update: D on real, then on G(z), hinge loss, Adam step.

        G runs without gradient: the reference back-propagates into G here too but discards
        those gradients. The order matters: each D forward is a power iteration.
        """
        with self.autocast():
            real_logit = self.D(real)[0]
            with paddle.no_grad():
                fake = self.G(z)[0]
            fake_logit = self.D(fake)[0]
            D_loss_real, D_loss_fake = hinge_d_loss(real_logit, fake_logit)
            D_loss = D_loss_real + D_loss_fake
        self.backward_and_step(D_loss, "D")
        return {"D_loss": D_loss, "D_loss_real": D_loss_real, "D_loss_fake": D_loss_fake,
                "D_out_real": real_logit.detach().mean(), "D_out_fake": fake_logit.detach().mean()}

    def g_step(self, z: paddle.Tensor) -> dict[str, paddle.Tensor]:
        """The reference's G update with -D(G(z)).mean(); D's own gradient is not computed (the
        reference computes and discards it)."""
        set_requires_grad([self.D], False)
        try:
            with self.autocast():
                G_loss = hinge_g_loss(self.D(self.G(z)[0])[0])
            self.backward_and_step(G_loss, "G")
        finally:
            set_requires_grad([self.D], True)
        return {"G_loss": G_loss}

    def train_step(self, batch: dict[str, paddle.Tensor]) -> dict[str, paddle.Tensor]:
        self.iteration += 1
        real = batch["real"]
        n = real.shape[0]
        losses = self.d_step(real, self._noise(n, self.iteration, 1))
        losses.update(self.g_step(self._noise(n, self.iteration, 2)))
        losses["gamma_G_attn1"] = self.G.attn1.gamma.detach().reshape([])
        losses["gamma_G_attn2"] = self.G.attn2.gamma.detach().reshape([])
        return losses

    # ----- pictures
    @paddle.no_grad()
    def visualize(self, batch: dict[str, paddle.Tensor]) -> dict[str, np.ndarray]:
        """``samples``: G on a fixed noise batch. ``attention``: per sample (column), the image
        with three query points marked, then where each point looks in the 16 px and in the
        32 px attention map. Neither changes any training state."""
        was_training = self.G.training
        self.G.eval()
        try:
            with fixed_singular_vectors(self.G):
                images, attn1, attn2 = self.G(self.fixed_z)
        finally:
            if was_training:
                self.G.train()
        images = to_uint8(images)
        size = images.shape[1]
        marks = [(int(x * size), int(y * size)) for x, y in QUERY_POINTS]
        columns = []
        for i in range(min(ATTENTION_SAMPLES, images.shape[0])):
            column = [_mark(images[i], marks)]
            for attn in (attn1, attn2):
                side = int(round(math.sqrt(attn.shape[1])))
                for (x, y), mark in zip(QUERY_POINTS, marks):
                    row = int(y * side) * side + int(x * side)
                    heat = attn[i, row].numpy().reshape(side, side)
                    column.append(_mark(overlay(images[i], heat), [mark]))
            columns.append(column)
        return {"samples": _square_grid(images), "attention": panel_grid(columns)}

    def sampler(self) -> nn.Layer:
        return Sampler(self.G)

    # ----- state
    def state_dict(self) -> dict:
        state = super().state_dict()
        state["iteration"] = self.iteration
        return state

    def set_state_dict(self, state: dict, source: str = "checkpoint") -> None:
        super().set_state_dict(state, source)
        self.iteration = int(state.get("iteration", 0))

    # ----- alignment with the reference implementation
    @classmethod
    def fixture_config(cls, fixture: dict) -> dict:
        def get(key):
            return fixture[f"config/{key}"].item()
        return {"model.name": "sagan", "model.img_size": int(get("image_size")),
                "model.conv_dim": int(get("conv_dim")), "model.z_dim": int(get("z_dim")),
                "optimizer.lr": float(get("g_lr")), "optimizer.d_lr": float(get("d_lr")),
                "optimizer.beta1": float(get("beta1")), "optimizer.beta2": float(get("beta2")),
                "optimizer.weight_decay": 0.0, "optimizer.decay_flag": False}

    @classmethod
    def config_from_official(cls, checkpoint: dict) -> dict:
        z_dim, channels = np.shape(checkpoint["G"]["l1.0.module.weight_bar"])[:2]
        return {"model.name": "sagan", "model.z_dim": int(z_dim),
                "model.conv_dim": int(channels) // 8}

    def fixture_outputs(self, fixture: dict) -> dict:
        from ppugatit.convert import paddle_to_official

        before = self.fixture_weights(fixture)
        t = {k: paddle.to_tensor(fixture[f"input/{k}"]) for k in ("z_eval", "z_d", "z_g", "real")}
        out: dict = {}

        self.load_weights(before)
        self.eval()
        with paddle.no_grad():
            image, attn1, attn2 = self.G(t["z_eval"])
        out["eval_forward/G/out"] = image.numpy()
        out["eval_forward/G/attn1"] = attn1.numpy()
        out["eval_forward/G/attn2_first_rows"] = attn2[:, :32].numpy()

        self.load_weights(before)
        self.train()
        losses = self.d_step(t["real"], t["z_d"])
        self._fixture_noise = self._float_noise(losses)
        # D's noise-only parameters: keep our update for their rows, but run the G step with
        # the reference's values, so that G_loss compares G and D rather than float32 noise
        ours_d = paddle_to_official(self.D)
        d_state = self.D.state_dict()
        pinned = [key.split("/", 2)[2] for key in self._fixture_noise if key.startswith("after/D/")]
        for name in pinned:
            paddle.assign(paddle.to_tensor(fixture[f"after/D/{name}"]), d_state[name])
        losses.update(self.g_step(t["z_g"]))
        for name in ("D_loss", "G_loss"):
            out[f"step/{name}"] = np.float64(float(losses[name]))
        out.update(self.after_tensors())
        for name in pinned:
            out[f"after/D/{name}"] = ours_d[name]
        return out

    def _float_noise(self, d_losses: dict[str, paddle.Tensor]) -> dict[str, str]:
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

    def fixture_float_noise(self, fixture: dict) -> dict[str, str]:
        """After :meth:`fixture_outputs`: ``{after/ key: why}`` for updates that are float32
        noise in the reference, which the alignment check holds to Adam's 2.5 lr bound only."""
        return dict(self._fixture_noise)
