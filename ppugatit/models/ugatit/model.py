"""U-GAT-IT: the official training step, with the official losses and their weights."""
from __future__ import annotations

import re
from types import SimpleNamespace

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from ppugatit.errors import ConfigError
from ppugatit.kernels import cpu as kernels
from ppugatit.layers import clip_rho, spectral_norm_groups
from ppugatit.losses import bce_to, mse_to
from ppugatit.models.base import GANModel
from ppugatit.models.ugatit import DESCRIPTION
from ppugatit.models.ugatit.networks import VARIANTS, Discriminator, ResnetGenerator
from ppugatit.shape_walk import Probe, pictures, same_size
from ppugatit.visual import panel_grid, seven_panels, to_uint8
from ppugatit.weights.layout import bottleneck_img_size


class Translator(nn.Layer):
    """Inference view of a generator: images in, ``(images, heatmap)`` out."""

    def __init__(self, generator: nn.Layer):
        super().__init__()
        self.generator = generator

    def forward(self, x: paddle.Tensor) -> tuple[paddle.Tensor, paddle.Tensor]:
        out, _, heatmap = self.generator(x)
        return out, heatmap


def real_and_fake(dis: nn.Layer, real: paddle.Tensor, fake: paddle.Tensor) -> tuple[tuple, tuple]:
    """``(real_logit, fake_logit), (real_cam_logit, fake_cam_logit)``: the discriminator on real,
    then on fake images, as the official two calls. With the ``grouped_spectral_norm`` kernel
    it is one call on ``[real; fake]`` whose spectral norms step twice: the same numbers, up to
    float32 rounding, in one convolution per layer."""
    if kernels.enabled("grouped_spectral_norm"):
        n = real.shape[0]
        with spectral_norm_groups([dis], 2):
            logit, cam_logit, _ = dis(paddle.concat([real, fake]))
        return (logit[:n], logit[n:]), (cam_logit[:n], cam_logit[n:])
    real_logit, real_cam_logit, _ = dis(real)
    fake_logit, fake_cam_logit, _ = dis(fake)
    return (real_logit, fake_logit), (real_cam_logit, fake_cam_logit)


class UGATIT(GANModel):
    description = DESCRIPTION
    DEFAULTS = DESCRIPTION.defaults
    official_networks = DESCRIPTION.official_networks

    @classmethod
    def sizes_from_official(cls, checkpoint: dict) -> dict:
        """Config overrides read off an official checkpoint's tensor shapes: ch and n_res from the generator, light from its FC's width (else img_size from it), each discriminator's depth from its layers."""
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
            over["model.img_size"] = bottleneck_img_size(fc_in, ch, "checkpoint")
        return over

    @classmethod
    def training_refusal(cls, cfg) -> str | None:
        if cfg.model.variant == "tensorflow":
            return ("model.variant=tensorflow runs the authors' TensorFlow checkpoints; it does "
                    "not train (their discriminators and trainer are not ported, so a run would "
                    "not be theirs): fine-tune a PyTorch-variant model instead (train."
                    "init_weights takes official .pt, PaddleGAN or ppugatit weights)")
        return None

    @classmethod
    def check_config(cls, cfg) -> None:
        m = cfg.model
        if m.variant not in VARIANTS:
            raise ConfigError(f"model.variant must be one of {', '.join(VARIANTS)}, got "
                              f"'{m.variant}'")
        if m.variant == "tensorflow" and m.n_res != 4:
            raise ConfigError(f"model.variant=tensorflow needs model.n_res=4 (the authors' MLP "
                              f"is ch * n_res wide and feeds 4 * ch channels), got {m.n_res}")
        super().check_config(cfg)

    @classmethod
    def probes(cls, m) -> list[Probe]:
        """The generator on a batch, its output against the batch (the cycle and identity
        losses); each discriminator depth on a batch. The TensorFlow variant has generators
        only."""
        def generator(m, narrow: bool) -> dict:
            return {"genA2B": ResnetGenerator(
                3, 3, ngf=1 if narrow else m.ch, n_blocks=m.n_res, img_size=m.img_size,
                light=m.light, self_attention=m.self_attention and not narrow,
                variant=m.variant, smoothing=m.smoothing)}

        def translate(nets: dict, m) -> str | None:
            x = pictures(m)
            return same_size("genA2B", nets["genA2B"](x)[0], x)

        probes = [Probe(("genA2B",), generator, translate, sizes=("img_size",),
                        widths=("ch", "self_attention"))]
        if m.variant == "tensorflow":
            return probes
        for key, name in (("n_dis_global", "disGA"), ("n_dis_local", "disLA")):
            def discriminator(m, narrow: bool, key=key, name=name) -> dict:
                return {name: Discriminator(3, 1 if narrow else m.ch, m[key],
                                            self_attention=m.self_attention and not narrow)}

            def judge(nets: dict, m, name=name) -> None:
                nets[name](pictures(m))

            probes.append(Probe((name,), discriminator, judge, sizes=("img_size", key),
                                widths=("ch", key, "self_attention")))
        return probes

    def __init__(self, cfg):
        super().__init__(cfg)
        m = cfg.model
        gen = dict(input_nc=3, output_nc=3, ngf=m.ch, n_blocks=m.n_res, img_size=m.img_size,
                   light=m.light, self_attention=m.self_attention, variant=m.variant,
                   smoothing=m.smoothing)
        self.genA2B = ResnetGenerator(**gen)
        self.genB2A = ResnetGenerator(**gen)
        self.generators = [self.genA2B, self.genB2A]
        if m.variant == "tensorflow":  # inference only (training_refusal): no discriminators
            self.networks = {"genA2B": self.genA2B, "genB2A": self.genB2A}
            self.discriminators = []
            return
        sa = m.self_attention
        self.disGA = Discriminator(3, m.ch, m.n_dis_global, self_attention=sa)
        self.disGB = Discriminator(3, m.ch, m.n_dis_global, self_attention=sa)
        self.disLA = Discriminator(3, m.ch, m.n_dis_local, self_attention=sa)
        self.disLB = Discriminator(3, m.ch, m.n_dis_local, self_attention=sa)
        self.networks = {"genA2B": self.genA2B, "genB2A": self.genB2A, "disGA": self.disGA,
                         "disGB": self.disGB, "disLA": self.disLA, "disLB": self.disLB}
        self.discriminators = [self.disGA, self.disGB, self.disLA, self.disLB]

        opt = cfg.optimizer
        self.make_optimizer("G", self.generators, opt.lr, (opt.beta1, opt.beta2), opt.weight_decay)
        self.make_optimizer("D", self.discriminators, opt.lr, (opt.beta1, opt.beta2),
                            opt.weight_decay)

    def step_inputs(self, batch: dict[str, paddle.Tensor]) -> SimpleNamespace:
        """The batch and the generators' forwards both updates read.

        Against the official order: ``genB2A([real_B; real_A])`` is the official fake_B2A and
        fake_A2A, computed once for both updates (G does not change in between; every
        normalisation is per sample), and likewise ``genA2B([real_A; real_B])``. The numbers
        are the official ones up to float32 rounding.
        """
        x = SimpleNamespace(real_A=batch["A"], real_B=batch["B"])
        n = x.real_A.shape[0]
        out_A, cam_A, _ = self.genB2A(paddle.concat([x.real_B, x.real_A]))
        out_B, cam_B, _ = self.genA2B(paddle.concat([x.real_A, x.real_B]))
        x.fake_B2A, x.fake_A2A = out_A[:n], out_A[n:]
        x.fake_A2B, x.fake_B2B = out_B[:n], out_B[n:]
        x.fake_B2A_cam_logit, x.fake_A2A_cam_logit = cam_A[:n], cam_A[n:]
        x.fake_A2B_cam_logit, x.fake_B2B_cam_logit = cam_B[:n], cam_B[n:]
        return x

    def updates(self) -> list:
        """D, then G with the discriminators frozen (the official code computes their
        gradient in the G update and discards it).

        With ``loss.adv_weight`` 0 (the ablation) the discriminators are neither run nor
        updated: trained on a zero loss, Adam's weight decay alone shrinks their weights
        towards 0 until the spectral norm divides 0 by 0 (about iteration 600 at lr 2e-4),
        and the NaN it gives makes the official code output NaN and Paddle 3.3's CPU
        kernels abort the process."""
        if self.cfg.loss.adv_weight == 0:
            return [("G", self.G_losses, self.discriminators)]
        return [("D", self.D_losses, []), ("G", self.G_losses, self.discriminators)]

    def D_losses(self, x: SimpleNamespace) -> dict[str, paddle.Tensor]:
        """The paper's L_lsgan for D, on the logits and on the CAM logits (its L_cam^D), each
        D seeing real then fake (:func:`real_and_fake`), weighted lambda_1."""
        w = self.cfg.loss
        fake_A, fake_B = x.fake_B2A.detach(), x.fake_A2B.detach()
        (real_GA_logit, fake_GA_logit), (real_GA_cam_logit, fake_GA_cam_logit) = \
            real_and_fake(self.disGA, x.real_A, fake_A)
        (real_LA_logit, fake_LA_logit), (real_LA_cam_logit, fake_LA_cam_logit) = \
            real_and_fake(self.disLA, x.real_A, fake_A)
        (real_GB_logit, fake_GB_logit), (real_GB_cam_logit, fake_GB_cam_logit) = \
            real_and_fake(self.disGB, x.real_B, fake_B)
        (real_LB_logit, fake_LB_logit), (real_LB_cam_logit, fake_LB_cam_logit) = \
            real_and_fake(self.disLB, x.real_B, fake_B)

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
        return {"D_loss": D_loss_A + D_loss_B, "D_loss_A": D_loss_A, "D_loss_B": D_loss_B}

    def G_adversarial(self, x: SimpleNamespace) -> tuple[paddle.Tensor, paddle.Tensor]:
        """lambda_1 L_lsgan for G: each D's logits and CAM logits on the fakes, towards 1."""
        w = self.cfg.loss
        fake_GA_logit, fake_GA_cam_logit, _ = self.disGA(x.fake_B2A)
        fake_LA_logit, fake_LA_cam_logit, _ = self.disLA(x.fake_B2A)
        fake_GB_logit, fake_GB_cam_logit, _ = self.disGB(x.fake_A2B)
        fake_LB_logit, fake_LB_cam_logit, _ = self.disLB(x.fake_A2B)

        G_ad_loss_GA = mse_to(fake_GA_logit, 1)
        G_ad_cam_loss_GA = mse_to(fake_GA_cam_logit, 1)
        G_ad_loss_LA = mse_to(fake_LA_logit, 1)
        G_ad_cam_loss_LA = mse_to(fake_LA_cam_logit, 1)
        G_ad_loss_GB = mse_to(fake_GB_logit, 1)
        G_ad_cam_loss_GB = mse_to(fake_GB_cam_logit, 1)
        G_ad_loss_LB = mse_to(fake_LB_logit, 1)
        G_ad_cam_loss_LB = mse_to(fake_LB_cam_logit, 1)

        G_ad_loss_A = w.adv_weight * (G_ad_loss_GA + G_ad_cam_loss_GA + G_ad_loss_LA
                                      + G_ad_cam_loss_LA)
        G_ad_loss_B = w.adv_weight * (G_ad_loss_GB + G_ad_cam_loss_GB + G_ad_loss_LB
                                      + G_ad_cam_loss_LB)
        return G_ad_loss_A, G_ad_loss_B

    def G_losses(self, x: SimpleNamespace) -> dict[str, paddle.Tensor]:
        """The full objective lambda_1 L_lsgan + lambda_2 L_cycle + lambda_3 L_identity +
        lambda_4 L_cam, lambda = (1, 10, 10, 1000) by default."""
        w = self.cfg.loss
        fake_A2B2A, _, _ = self.genB2A(x.fake_A2B)
        fake_B2A2B, _, _ = self.genA2B(x.fake_B2A)
        G_ad_loss_A, G_ad_loss_B = self.G_adversarial(x) if w.adv_weight != 0 else (
            paddle.zeros([]), paddle.zeros([]))

        # L_cycle and L_identity: L1 to the input
        G_recon_loss_A = F.l1_loss(fake_A2B2A, x.real_A)
        G_recon_loss_B = F.l1_loss(fake_B2A2B, x.real_B)
        G_identity_loss_A = F.l1_loss(x.fake_A2A, x.real_A)
        G_identity_loss_B = F.l1_loss(x.fake_B2B, x.real_B)

        # L_cam for G: the generator's CAM tells the source domain from the target
        G_cam_loss_A = bce_to(x.fake_B2A_cam_logit, 1) + bce_to(x.fake_A2A_cam_logit, 0)
        G_cam_loss_B = bce_to(x.fake_A2B_cam_logit, 1) + bce_to(x.fake_B2B_cam_logit, 0)

        G_loss_A = (G_ad_loss_A + w.cycle_weight * G_recon_loss_A
                    + w.identity_weight * G_identity_loss_A + w.cam_weight * G_cam_loss_A)
        G_loss_B = (G_ad_loss_B + w.cycle_weight * G_recon_loss_B
                    + w.identity_weight * G_identity_loss_B + w.cam_weight * G_cam_loss_B)
        return {"G_loss": G_loss_A + G_loss_B,
                "G_ad_loss_A": G_ad_loss_A, "G_ad_loss_B": G_ad_loss_B,
                "G_cam_loss_A": G_cam_loss_A, "G_cam_loss_B": G_cam_loss_B,
                "G_recon_loss_A": G_recon_loss_A, "G_recon_loss_B": G_recon_loss_B,
                "G_identity_loss_A": G_identity_loss_A, "G_identity_loss_B": G_identity_loss_B}

    def after_step(self) -> dict:
        """The official rho clipping, after both updates."""
        for g in self.generators:
            clip_rho(g)
        return {}

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
