"""SAGAN: unconditional generation with self-attention, spectral norm, hinge loss and TTUR."""
from __future__ import annotations

import math
from types import SimpleNamespace

import cv2
import numpy as np
import paddle
import paddle.distributed as dist
import paddle.nn as nn

from ppugatit.errors import ConfigError
from ppugatit.losses import hinge_d_loss, hinge_g_loss
from ppugatit.models.base import GANModel
from ppugatit.models.sagan import DESCRIPTION
from ppugatit.models.sagan.networks import (Discriminator, Generator, fixed_singular_vectors,
                                     spectral_norms)
from ppugatit.shape_walk import Probe, pictures
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
    description = DESCRIPTION
    DEFAULTS = DESCRIPTION.defaults
    train_folders = {"real": ""}   # every image under dataset.root, sub-folders included
    test_folders: dict = {}
    task = "generation"
    directions = ()
    official_networks = DESCRIPTION.official_networks

    @classmethod
    def sizes_from_official(cls, checkpoint: dict) -> dict:
        """Config overrides read off an official checkpoint's tensor shapes: z_dim and conv_dim from the generator's first layer."""
        z_dim, channels = np.shape(checkpoint["G"]["l1.0.module.weight_bar"])[:2]
        return {"model.name": "sagan", "model.z_dim": int(z_dim),
                "model.conv_dim": int(channels) // 8}
    onednn_inference = False  # Paddle 3.3.1's oneDNN transposed convolutions: off by 2e-2

    @classmethod
    def probes(cls, m) -> list[Probe]:
        """G on noise, D on a batch of the data set's pictures: D compares the two, so G must
        make pictures of the data set's size, and D must give one logit per picture."""
        def build(m, narrow: bool) -> dict:
            # narrow: 8, the fewest channels its attention takes (the real width, built first,
            # has at least as many)
            width = 8 if narrow else m.conv_dim
            return {"G": Generator(m.z_dim, width), "D": Discriminator(width)}

        def run(nets: dict, m) -> str | None:
            fake = nets["G"](paddle.zeros([2, m.z_dim]))[0]
            if fake.shape[-1] != m.img_size:
                return (f"G makes {fake.shape[-1]} px pictures, which D compares with the data "
                        f"set's {m.img_size} px ones")
            logit = nets["D"](pictures(m, 2))[0]
            if logit.shape != [2]:
                return f"D gives {logit.shape[0]} logits for 2 pictures, not one per picture"
            return None

        return [Probe(("G", "D"), build, run, sizes=("img_size",), widths=("conv_dim",))]

    def __init__(self, cfg):
        super().__init__(cfg)
        m = cfg.model
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

    # noise
    def _noise(self, n: int, iteration: int, k: int) -> paddle.Tensor:
        """z for (iteration, k) on this rank: a pure function of the seed, so resume is exact."""
        rank = dist.get_rank() if dist.is_initialized() else 0
        rng = np.random.default_rng([self.seed, iteration, k, rank])
        return paddle.to_tensor(rng.standard_normal((n, self.cfg.model.z_dim), dtype=np.float32))

    # training
    def step_inputs(self, batch: dict[str, paddle.Tensor]) -> SimpleNamespace:
        """The batch and this iteration's two noise draws (a pure function of the seed)."""
        self.iteration += 1
        n = batch["real"].shape[0]
        return SimpleNamespace(real=batch["real"], z_d=self._noise(n, self.iteration, 1),
                               z_g=self._noise(n, self.iteration, 2))

    def updates(self) -> list:
        """The reference's D update, then its G update with D frozen (the reference computes
        D's gradient there and discards it). The order matters: each D forward is a power
        iteration."""
        return [("D", self.D_losses, []), ("G", self.G_losses, [self.D])]

    def D_losses(self, x: SimpleNamespace) -> dict[str, paddle.Tensor]:
        """The paper's hinge loss for D: relu(1 - D(x)) + relu(1 + D(G(z))), D on real, then
        on G(z). G runs without gradient: the reference back-propagates into G here too but
        discards those gradients."""
        real_logit = self.D(x.real)[0]
        with paddle.no_grad():
            fake = self.G(x.z_d)[0]
        fake_logit = self.D(fake)[0]
        D_loss_real, D_loss_fake = hinge_d_loss(real_logit, fake_logit)
        return {"D_loss": D_loss_real + D_loss_fake, "D_loss_real": D_loss_real,
                "D_loss_fake": D_loss_fake, "D_out_real": real_logit.detach().mean(),
                "D_out_fake": fake_logit.detach().mean()}

    def G_losses(self, x: SimpleNamespace) -> dict[str, paddle.Tensor]:
        """And for G: -D(G(z)).mean()."""
        return {"G_loss": hinge_g_loss(self.D(self.G(x.z_g)[0])[0])}

    def after_step(self) -> dict[str, paddle.Tensor]:
        """The attention gammas, logged as the reference logs them."""
        return {"gamma_G_attn1": self.G.attn1.gamma.detach().reshape([]),
                "gamma_G_attn2": self.G.attn2.gamma.detach().reshape([])}

    # pictures
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

    # state
    def state_dict(self) -> dict:
        state = super().state_dict()
        state["iteration"] = self.iteration
        return state

    def set_state_dict(self, state: dict, source: str = "checkpoint") -> None:
        super().set_state_dict(state, source)
        self.iteration = int(state.get("iteration", 0))
