"""U-GAT-IT: the official training step, with the official losses and their weights."""
from __future__ import annotations

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from ppugatit.errors import ConfigError
from ppugatit.layers import clip_rho, spectral_norm_groups
from ppugatit.losses import bce_to, mse_to
from ppugatit.models.base import GANModel, set_requires_grad
from ppugatit.networks.ugatit import Discriminator, ResnetGenerator
from ppugatit.visual import panel_grid, seven_panels, to_uint8


class Translator(nn.Layer):
    """Inference view of a generator: images in, ``(images, heatmap)`` out."""

    def __init__(self, generator: nn.Layer):
        super().__init__()
        self.generator = generator

    def forward(self, x: paddle.Tensor) -> tuple[paddle.Tensor, paddle.Tensor]:
        out, _, heatmap = self.generator(x)
        return out, heatmap


def real_and_fake(d_out: tuple, n: int) -> tuple[tuple, tuple]:
    """``(logit, cam_logit)`` of a discriminator's real-then-fake batch, each split in two."""
    logit, cam_logit, _ = d_out
    return (logit[:n], logit[n:]), (cam_logit[:n], cam_logit[n:])


class UGATIT(GANModel):
    DEFAULTS = {
        "output_dir": "output/ugatit",
        "model": {
            "name": "ugatit",
            "light": False,
            "ch": 64,
            "n_res": 4,
            "img_size": 256,
            "n_dis_global": 7,
            "n_dis_local": 5,
            "self_attention": False,
        },
        "loss": {
            "adv_weight": 1.0,
            "cycle_weight": 10.0,
            "identity_weight": 10.0,
            "cam_weight": 1000.0,
        },
    }

    def __init__(self, cfg):
        super().__init__(cfg)
        m = cfg.model
        if m.img_size % 4:
            raise ConfigError(f"model.img_size must be a multiple of 4, got {m.img_size}")
        for key, n in (("n_dis_global", m.n_dis_global), ("n_dis_local", m.n_dis_local)):
            if n < 3:
                raise ConfigError(f"model.{key} must be at least 3, got {n}")
            # each of the first n-2 layers halves the size; the last two convs take 3 px each
            if m.img_size // 2 ** (n - 2) < 4:
                raise ConfigError(
                    f"model.{key}={n} needs img_size >= {4 * 2 ** (n - 2)}, got {m.img_size};"
                    f" lower model.{key} or raise model.img_size")
        narrowest = m.ch * min(4, 2 ** (min(m.n_dis_global, m.n_dis_local) - 2))
        if m.self_attention and narrowest < 8:
            raise ConfigError(f"model.self_attention needs at least 8 channels where it attends "
                              f"(C/8 query channels), got {narrowest}; raise model.ch")
        gen = dict(input_nc=3, output_nc=3, ngf=m.ch, n_blocks=m.n_res, img_size=m.img_size,
                   light=m.light, self_attention=m.self_attention)
        self.genA2B = ResnetGenerator(**gen)
        self.genB2A = ResnetGenerator(**gen)
        sa = m.self_attention
        self.disGA = Discriminator(3, m.ch, m.n_dis_global, self_attention=sa)
        self.disGB = Discriminator(3, m.ch, m.n_dis_global, self_attention=sa)
        self.disLA = Discriminator(3, m.ch, m.n_dis_local, self_attention=sa)
        self.disLB = Discriminator(3, m.ch, m.n_dis_local, self_attention=sa)
        self.networks = {"genA2B": self.genA2B, "genB2A": self.genB2A, "disGA": self.disGA,
                         "disGB": self.disGB, "disLA": self.disLA, "disLB": self.disLB}
        self.generators = [self.genA2B, self.genB2A]
        self.discriminators = [self.disGA, self.disGB, self.disLA, self.disLB]

        opt = cfg.optimizer
        self.make_optimizer("G", self.generators, opt.lr, (opt.beta1, opt.beta2), opt.weight_decay)
        self.make_optimizer("D", self.discriminators, opt.lr, (opt.beta1, opt.beta2),
                            opt.weight_decay)

    def train_step(self, batch: dict[str, paddle.Tensor]) -> dict[str, paddle.Tensor]:
        """One official step: D update, then G update, then rho clipping.

        Rewrites that leave every number as the official code computes it, up to float32
        rounding: the generators' forwards on real images run once and serve both updates (G
        does not change in between), batching translation with identity (all normalisation is
        per sample); in the D update each discriminator takes real and fake in one call whose
        spectral norms step twice, as the official two calls do (``spectral_norm_groups``); and
        D's parameters are frozen during the G update, whose gradient for them the official
        code computes and discards.
        """
        w = self.cfg.loss
        real_A, real_B = batch["A"], batch["B"]
        n = real_A.shape[0]

        with self.autocast():
            out_A, cam_A, _ = self.genB2A(paddle.concat([real_B, real_A]))
            out_B, cam_B, _ = self.genA2B(paddle.concat([real_A, real_B]))
        fake_B2A, fake_A2A = out_A[:n], out_A[n:]
        fake_A2B, fake_B2B = out_B[:n], out_B[n:]
        fake_B2A_cam_logit, fake_A2A_cam_logit = cam_A[:n], cam_A[n:]
        fake_A2B_cam_logit, fake_B2B_cam_logit = cam_B[:n], cam_B[n:]

        # ----- D update: each D sees real then fake, in one call of two batch groups
        with self.autocast(), spectral_norm_groups(self.discriminators, 2):
            both_A = paddle.concat([real_A, fake_B2A.detach()])
            both_B = paddle.concat([real_B, fake_A2B.detach()])
            (real_GA_logit, fake_GA_logit), (real_GA_cam_logit, fake_GA_cam_logit) = \
                real_and_fake(self.disGA(both_A), n)
            (real_LA_logit, fake_LA_logit), (real_LA_cam_logit, fake_LA_cam_logit) = \
                real_and_fake(self.disLA(both_A), n)
            (real_GB_logit, fake_GB_logit), (real_GB_cam_logit, fake_GB_cam_logit) = \
                real_and_fake(self.disGB(both_B), n)
            (real_LB_logit, fake_LB_logit), (real_LB_cam_logit, fake_LB_cam_logit) = \
                real_and_fake(self.disLB(both_B), n)

            D_ad_loss_GA = mse_to(real_GA_logit, 1) + mse_to(fake_GA_logit, 0)
            D_ad_cam_loss_GA = mse_to(real_GA_cam_logit, 1) + mse_to(fake_GA_cam_logit, 0)
            D_ad_loss_LA = mse_to(real_LA_logit, 1) + mse_to(fake_LA_logit, 0)
            D_ad_cam_loss_LA = mse_to(real_LA_cam_logit, 1) + mse_to(fake_LA_cam_logit, 0)
            D_ad_loss_GB = mse_to(real_GB_logit, 1) + mse_to(fake_GB_logit, 0)
            D_ad_cam_loss_GB = mse_to(real_GB_cam_logit, 1) + mse_to(fake_GB_cam_logit, 0)
            D_ad_loss_LB = mse_to(real_LB_logit, 1) + mse_to(fake_LB_logit, 0)
            D_ad_cam_loss_LB = mse_to(real_LB_cam_logit, 1) + mse_to(fake_LB_cam_logit, 0)

            D_loss_A = w.adv_weight * (D_ad_loss_GA + D_ad_cam_loss_GA + D_ad_loss_LA
                                       + D_ad_cam_loss_LA)
            D_loss_B = w.adv_weight * (D_ad_loss_GB + D_ad_cam_loss_GB + D_ad_loss_LB
                                       + D_ad_cam_loss_LB)
            D_loss = D_loss_A + D_loss_B
        self.backward_and_step(D_loss, "D")

        # ----- G update
        set_requires_grad(self.discriminators, False)
        try:
            with self.autocast():
                fake_A2B2A, _, _ = self.genB2A(fake_A2B)
                fake_B2A2B, _, _ = self.genA2B(fake_B2A)

                fake_GA_logit, fake_GA_cam_logit, _ = self.disGA(fake_B2A)
                fake_LA_logit, fake_LA_cam_logit, _ = self.disLA(fake_B2A)
                fake_GB_logit, fake_GB_cam_logit, _ = self.disGB(fake_A2B)
                fake_LB_logit, fake_LB_cam_logit, _ = self.disLB(fake_A2B)

                G_ad_loss_GA = mse_to(fake_GA_logit, 1)
                G_ad_cam_loss_GA = mse_to(fake_GA_cam_logit, 1)
                G_ad_loss_LA = mse_to(fake_LA_logit, 1)
                G_ad_cam_loss_LA = mse_to(fake_LA_cam_logit, 1)
                G_ad_loss_GB = mse_to(fake_GB_logit, 1)
                G_ad_cam_loss_GB = mse_to(fake_GB_cam_logit, 1)
                G_ad_loss_LB = mse_to(fake_LB_logit, 1)
                G_ad_cam_loss_LB = mse_to(fake_LB_cam_logit, 1)

                G_recon_loss_A = F.l1_loss(fake_A2B2A, real_A)
                G_recon_loss_B = F.l1_loss(fake_B2A2B, real_B)
                G_identity_loss_A = F.l1_loss(fake_A2A, real_A)
                G_identity_loss_B = F.l1_loss(fake_B2B, real_B)

                G_cam_loss_A = bce_to(fake_B2A_cam_logit, 1) + bce_to(fake_A2A_cam_logit, 0)
                G_cam_loss_B = bce_to(fake_A2B_cam_logit, 1) + bce_to(fake_B2B_cam_logit, 0)

                G_ad_loss_A = w.adv_weight * (G_ad_loss_GA + G_ad_cam_loss_GA + G_ad_loss_LA
                                              + G_ad_cam_loss_LA)
                G_ad_loss_B = w.adv_weight * (G_ad_loss_GB + G_ad_cam_loss_GB + G_ad_loss_LB
                                              + G_ad_cam_loss_LB)
                G_loss_A = (G_ad_loss_A + w.cycle_weight * G_recon_loss_A
                            + w.identity_weight * G_identity_loss_A + w.cam_weight * G_cam_loss_A)
                G_loss_B = (G_ad_loss_B + w.cycle_weight * G_recon_loss_B
                            + w.identity_weight * G_identity_loss_B + w.cam_weight * G_cam_loss_B)
                G_loss = G_loss_A + G_loss_B
            self.backward_and_step(G_loss, "G")
        finally:
            set_requires_grad(self.discriminators, True)
        for g in self.generators:
            clip_rho(g)

        return {"D_loss": D_loss, "G_loss": G_loss, "D_loss_A": D_loss_A, "D_loss_B": D_loss_B,
                "G_ad_loss_A": G_ad_loss_A, "G_ad_loss_B": G_ad_loss_B,
                "G_cam_loss_A": G_cam_loss_A, "G_cam_loss_B": G_cam_loss_B,
                "G_recon_loss_A": G_recon_loss_A, "G_recon_loss_B": G_recon_loss_B,
                "G_identity_loss_A": G_identity_loss_A, "G_identity_loss_B": G_identity_loss_B}

    @paddle.no_grad()
    def visualize(self, batch: dict[str, paddle.Tensor]) -> dict:
        """The official sample grids: per image, real, then heatmap and image of the identity,
        the translation and the cycle."""
        was_training = self.genA2B.training
        self.eval()
        grids = {}
        for name, real, fwd, back in (("A2B", batch["A"], self.genA2B, self.genB2A),
                                      ("B2A", batch["B"], self.genB2A, self.genA2B)):
            ident, _, ident_heat = back(real)
            fake, _, fake_heat = fwd(real)
            cycle, _, cycle_heat = back(fake)
            reals, idents, fakes, cycles = (to_uint8(t) for t in (real, ident, fake, cycle))
            columns = [seven_panels(reals[i], (idents[i], ident_heat[i].numpy()),
                                    (fakes[i], fake_heat[i].numpy()),
                                    (cycles[i], cycle_heat[i].numpy()))
                       for i in range(real.shape[0])]
            grids[name] = panel_grid(columns)
        if was_training:
            self.train()
        return grids

    def translator(self, direction: str) -> nn.Layer:
        generators = {"A2B": self.genA2B, "B2A": self.genB2A}
        if direction not in generators:
            raise ConfigError(f"direction must be A2B or B2A, got '{direction}'")
        return Translator(generators[direction])

    # ----- alignment with the official implementation
    official_networks = ("genA2B", "genB2A", "disGA", "disGB", "disLA", "disLB")

    @classmethod
    def fixture_config(cls, fixture: dict) -> dict:
        def get(key, default=None):
            return fixture[f"config/{key}"].item() if f"config/{key}" in fixture else default
        return {"model.name": "ugatit", "model.light": bool(get("light")),
                "model.ch": int(get("ch")), "model.n_res": int(get("n_res")),
                "model.img_size": int(get("img_size")),
                "model.n_dis_global": int(get("n_dis_global", 7)),
                "model.n_dis_local": int(get("n_dis_local", 5)),
                "optimizer.lr": float(get("lr")),
                "optimizer.weight_decay": float(get("weight_decay")),
                "loss.adv_weight": float(get("adv_weight")),
                "loss.cycle_weight": float(get("cycle_weight")),
                "loss.identity_weight": float(get("identity_weight")),
                "loss.cam_weight": float(get("cam_weight"))}

    @classmethod
    def config_from_official(cls, checkpoint: dict) -> dict:
        import re
        gen, dis_g, dis_l = checkpoint["genA2B"], checkpoint["disGA"], checkpoint["disLA"]
        ch = int(np.shape(gen["DownBlock.1.weight"])[0])
        n_res = len([k for k in gen if re.fullmatch(r"DownBlock\.\d+\.conv_block\.1\.weight", k)])
        fc_in = int(np.shape(gen["FC.0.weight"])[1])
        over = {"model.name": "ugatit", "model.ch": ch, "model.n_res": n_res,
                "model.light": fc_in == 4 * ch,
                "model.n_dis_global": 1 + len([k for k in dis_g if k.startswith("model.")
                                               and k.endswith("weight_orig")]),
                "model.n_dis_local": 1 + len([k for k in dis_l if k.startswith("model.")
                                              and k.endswith("weight_orig")])}
        if fc_in != 4 * ch:
            over["model.img_size"] = 4 * int(round((fc_in / (4 * ch)) ** 0.5))
        return over

    def fixture_outputs(self, fixture: dict) -> dict:
        from ppugatit.convert import paddle_to_official

        before = self.fixture_weights(fixture)
        real_A = paddle.to_tensor(fixture["input/real_A"])
        real_B = paddle.to_tensor(fixture["input/real_B"])
        out: dict = {}

        self.load_weights(before)
        self.eval()
        with paddle.no_grad():
            for net in ("genA2B", "disGA", "disLA"):
                logit, cam_logit, heatmap = self.networks[net](real_A)
                for name, t in (("out", logit), ("cam_logit", cam_logit), ("heatmap", heatmap)):
                    out[f"eval_forward/{net}/{name}"] = t.numpy()

            self.disGA.train()
            out["train_forward/disGA/out"] = self.disGA(real_A)[0].numpy()
            for name, t in paddle_to_official(self.disGA).items():
                if name.endswith(("weight_u", "weight_v")):
                    out[f"train_forward/disGA/{name}"] = t

        out.update(self.fixture_step(before, {"A": real_A, "B": real_B}))
        return out
