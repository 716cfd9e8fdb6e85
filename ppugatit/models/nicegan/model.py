"""NICE-GAN: the official decoupled training step, with the official losses and their weights.

The discriminators double as the encoders: A2B is ``gen2B(disA.encode(real_A).z)``. The D update
trains the encoders adversarially; the G update trains the decoders only (``G_optim`` holds the
generators' parameters), although its loss reaches the encoders too (NICE-GAN's decoupled
training: the encoder is never stepped by the generator loss).
"""
from __future__ import annotations

import re
from types import SimpleNamespace

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from ppugatit.errors import ConfigError
from ppugatit.losses import mse_to
from ppugatit.models.base import GANModel
from ppugatit.models.nicegan import DESCRIPTION
from ppugatit.models.nicegan.networks import Discriminator, ResnetGenerator
from ppugatit.shape_walk import Probe, pictures, same_size
from ppugatit.visual import heatmap_to_rgb, panel_grid, to_uint8
from ppugatit.weights.layout import bottleneck_img_size


class Translator(nn.Layer):
    """Inference view: the source domain's discriminator encodes, the target's generator
    decodes; ``(images, heatmap)`` out, the heatmap being the encoder's CAM."""

    def __init__(self, encoder: Discriminator, generator: ResnetGenerator):
        super().__init__()
        self.encoder = encoder
        self.generator = generator

    def forward(self, x: paddle.Tensor) -> tuple[paddle.Tensor, paddle.Tensor]:
        _, heatmap, z = self.encoder.encode(x)
        return self.generator(z), heatmap


class NICEGAN(GANModel):
    description = DESCRIPTION
    DEFAULTS = DESCRIPTION.defaults
    official_networks = DESCRIPTION.official_networks

    @classmethod
    def sizes_from_official(cls, checkpoint: dict) -> dict:
        """Config overrides read off an official checkpoint's tensor shapes: ch, n_res and the discriminator depth from their layers, light from the FC's width (else img_size from it)."""
        gen, dis = checkpoint["gen2B"], checkpoint["disA"]
        ch = int(np.shape(gen["UpBlock0.1.weight"])[0]) // 4
        n_res = len([k for k in gen if re.fullmatch(r"UpBlock1_\d+\.conv1\.weight", k)])
        n_dis = 6 + len([k for k in dis if re.fullmatch(r"Dis0_0\.\d+\.weight_orig", k)])
        fc_in = int(np.shape(gen["FC.0.weight"])[1])
        over = {"model.name": "nicegan", "model.ch": ch, "model.n_res": n_res,
                "model.n_dis": n_dis, "model.light": fc_in == 4 * ch}
        if fc_in != 4 * ch:
            over["model.img_size"] = bottleneck_img_size(fc_in, ch, "checkpoint")
        return over
    onednn_inference = False  # Paddle 3.3.1's oneDNN inference crashes on the SN encoder

    @classmethod
    def probes(cls, m) -> list[Probe]:
        """The discriminator on a batch, the generator on its z, and the generator's output
        against the batch (the cycle and reconstruction losses)."""
        def build(m, narrow: bool) -> dict:
            ch = 1 if narrow else m.ch
            return {"disA": Discriminator(3, ch, m.n_dis),
                    "gen2B": ResnetGenerator(3, 3, ngf=ch, n_blocks=m.n_res,
                                             img_size=m.img_size, light=m.light)}

        def run(nets: dict, m) -> str | None:
            x = pictures(m)
            *_, z = nets["disA"](x)
            return same_size("disA -> gen2B", nets["gen2B"](z), x)

        return [Probe(("disA", "gen2B"), build, run, sizes=("img_size", "n_dis"),
                      widths=("n_dis",))]

    def __init__(self, cfg):
        super().__init__(cfg)
        m = cfg.model
        gen = dict(input_nc=3, output_nc=3, ngf=m.ch, n_blocks=m.n_res, img_size=m.img_size,
                   light=m.light)
        self.gen2B = ResnetGenerator(**gen)
        self.gen2A = ResnetGenerator(**gen)
        self.disA = Discriminator(3, m.ch, m.n_dis)
        self.disB = Discriminator(3, m.ch, m.n_dis)
        self.networks = {"gen2B": self.gen2B, "gen2A": self.gen2A, "disA": self.disA,
                         "disB": self.disB}
        self.generators = [self.gen2B, self.gen2A]
        self.discriminators = [self.disA, self.disB]

        opt = cfg.optimizer
        self.make_optimizer("G", self.generators, opt.lr, (opt.beta1, opt.beta2), opt.weight_decay)
        self.make_optimizer("D", self.discriminators, opt.lr, (opt.beta1, opt.beta2),
                            opt.weight_decay)

    def step_inputs(self, batch: dict[str, paddle.Tensor]) -> SimpleNamespace:
        return SimpleNamespace(real_A=batch["A"], real_B=batch["B"])

    def updates(self) -> list:
        """D, then G with the discriminators frozen (the official code computes their
        gradient in the G update but never applies it).

        Against the official order: ``gen2B([z_A; z_B])`` is the official fake_A2B and
        fake_B2B in one batch (likewise gen2A; every normalisation is per sample); the D
        update's fakes are decoded without a graph (the official code detaches them). Every
        discriminator forward of the official step still runs, in the same order, since each
        advances spectral norm's power iteration.
        """
        return [("D", self.D_losses, []), ("G", self.G_losses, self.discriminators)]

    def D_losses(self, x: SimpleNamespace) -> dict[str, paddle.Tensor]:
        """L_gan for D: the global, local and CAM heads, real towards 1 and fake towards 0,
        weighted lambda_1; the discriminators are also the encoders of the fakes."""
        w = self.cfg.loss
        real_LA_logit, real_GA_logit, real_A_cam_logit, _, real_A_z = self.disA(x.real_A)
        real_LB_logit, real_GB_logit, real_B_cam_logit, _, real_B_z = self.disB(x.real_B)
        with paddle.no_grad():
            fake_A2B = self.gen2B(real_A_z.detach())
            fake_B2A = self.gen2A(real_B_z.detach())
        fake_LA_logit, fake_GA_logit, fake_A_cam_logit, _, _ = self.disA(fake_B2A)
        fake_LB_logit, fake_GB_logit, fake_B_cam_logit, _, _ = self.disB(fake_A2B)

        D_ad_loss_GA = mse_to(real_GA_logit, 1) + mse_to(fake_GA_logit, 0)
        D_ad_loss_LA = mse_to(real_LA_logit, 1) + mse_to(fake_LA_logit, 0)
        D_ad_loss_GB = mse_to(real_GB_logit, 1) + mse_to(fake_GB_logit, 0)
        D_ad_loss_LB = mse_to(real_LB_logit, 1) + mse_to(fake_LB_logit, 0)
        D_ad_cam_loss_A = mse_to(real_A_cam_logit, 1) + mse_to(fake_A_cam_logit, 0)
        D_ad_cam_loss_B = mse_to(real_B_cam_logit, 1) + mse_to(fake_B_cam_logit, 0)

        D_loss_A = w.adv_weight * (D_ad_loss_GA + D_ad_cam_loss_A + D_ad_loss_LA)
        D_loss_B = w.adv_weight * (D_ad_loss_GB + D_ad_cam_loss_B + D_ad_loss_LB)
        return {"D_loss": D_loss_A + D_loss_B, "D_loss_A": D_loss_A, "D_loss_B": D_loss_B}

    def G_losses(self, x: SimpleNamespace) -> dict[str, paddle.Tensor]:
        """The full objective lambda_1 L_gan + lambda_2 L_cycle + lambda_3 L_recon, weighted
        1, 10, 10 by default."""
        w = self.cfg.loss
        n = x.real_A.shape[0]
        _, _, _, _, real_A_z = self.disA(x.real_A)
        _, _, _, _, real_B_z = self.disB(x.real_B)
        out_B = self.gen2B(paddle.concat([real_A_z, real_B_z]))
        out_A = self.gen2A(paddle.concat([real_B_z, real_A_z]))
        fake_A2B, fake_B2B = out_B[:n], out_B[n:]
        fake_B2A, fake_A2A = out_A[:n], out_A[n:]

        fake_LA_logit, fake_GA_logit, fake_A_cam_logit, _, fake_A_z = self.disA(fake_B2A)
        fake_LB_logit, fake_GB_logit, fake_B_cam_logit, _, fake_B_z = self.disB(fake_A2B)
        fake_B2A2B = self.gen2B(fake_A_z)
        fake_A2B2A = self.gen2A(fake_B_z)

        # L_gan for G: the three heads on the fakes, towards 1
        G_ad_loss_GA = mse_to(fake_GA_logit, 1)
        G_ad_loss_LA = mse_to(fake_LA_logit, 1)
        G_ad_loss_GB = mse_to(fake_GB_logit, 1)
        G_ad_loss_LB = mse_to(fake_LB_logit, 1)
        G_ad_cam_loss_A = mse_to(fake_A_cam_logit, 1)
        G_ad_cam_loss_B = mse_to(fake_B_cam_logit, 1)

        # L_cycle (through the other domain and back) and L_recon (decoding one's own
        # code): L1 to the input
        G_cycle_loss_A = F.l1_loss(fake_A2B2A, x.real_A)
        G_cycle_loss_B = F.l1_loss(fake_B2A2B, x.real_B)
        G_recon_loss_A = F.l1_loss(fake_A2A, x.real_A)
        G_recon_loss_B = F.l1_loss(fake_B2B, x.real_B)

        G_ad_loss_A = w.adv_weight * (G_ad_loss_GA + G_ad_cam_loss_A + G_ad_loss_LA)
        G_ad_loss_B = w.adv_weight * (G_ad_loss_GB + G_ad_cam_loss_B + G_ad_loss_LB)
        G_loss_A = (G_ad_loss_A + w.cycle_weight * G_cycle_loss_A
                    + w.recon_weight * G_recon_loss_A)
        G_loss_B = (G_ad_loss_B + w.cycle_weight * G_cycle_loss_B
                    + w.recon_weight * G_recon_loss_B)
        return {"G_loss": G_loss_A + G_loss_B,
                "G_ad_loss_A": G_ad_loss_A, "G_ad_loss_B": G_ad_loss_B,
                "G_cycle_loss_A": G_cycle_loss_A, "G_cycle_loss_B": G_cycle_loss_B,
                "G_recon_loss_A": G_recon_loss_A, "G_recon_loss_B": G_recon_loss_B}

    @paddle.no_grad()
    def visualize(self, batch: dict[str, paddle.Tensor]) -> dict:
        """The official sample grids: per image a column of real, the encoder's CAM heatmap,
        reconstruction, translation and cycle."""
        was_training = self.gen2B.training
        self.eval()
        grids = {}
        for name, real, enc, other, to_other, to_self in (
                ("A2B", batch["A"], self.disA, self.disB, self.gen2B, self.gen2A),
                ("B2A", batch["B"], self.disB, self.disA, self.gen2A, self.gen2B)):
            _, heat, z = enc.encode(real)
            fake = to_other(z)
            cycle = to_self(other.encode(fake)[2])
            recon = to_self(z)
            reals, recons, fakes, cycles = (to_uint8(t) for t in (real, recon, fake, cycle))
            size = reals.shape[1:3]
            columns = [[reals[i], heatmap_to_rgb(heat[i].numpy(), size), recons[i], fakes[i],
                        cycles[i]] for i in range(real.shape[0])]
            grids[name] = panel_grid(columns)
        if was_training:
            self.train()
        return grids

    def translator(self, direction: str) -> nn.Layer:
        pairs = {"A2B": (self.disA, self.gen2B), "B2A": (self.disB, self.gen2A)}
        if direction not in pairs:
            raise ConfigError(f"direction must be A2B or B2A, got '{direction}'")
        return Translator(*pairs[direction])
