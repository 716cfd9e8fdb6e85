"""The official PyTorch models and training steps, for the runners that compare with ours.

Imports ``networks.py`` from an official checkout (UGATIT-pytorch or NICE-GAN-pytorch) and
performs the step of its trainer's ``train()`` loop (D update, G update; U-GAT-IT then clips
rho), with its optimizers, losses and weights, written out from that loop. Used by
research/benchmark_official.py (timing) and research/quality_official.py (training to a score).
Needs torch, not ppugatit; not part of the package.
"""
import itertools
import sys

import torch
import torch.nn as nn

MSE, L1, BCE = nn.MSELoss(), nn.L1Loss(), nn.BCEWithLogitsLoss()


def _adv(logits, target):
    return sum(MSE(x, torch.full_like(x, target)) for x in logits)


def _bce(logit, target):
    return BCE(logit, torch.full_like(logit, target))


def _adam(networks, lr, weight_decay):
    return torch.optim.Adam(itertools.chain(*(n.parameters() for n in networks)), lr=lr,
                            betas=(0.5, 0.999), weight_decay=weight_decay)


class OfficialModel:
    """Networks, the two optimizers and the step; ``set_lr`` is how the official loop's
    linear decay is applied (it edits ``param_groups[0]['lr']`` of both)."""

    networks: dict

    def set_lr(self, lr):
        for opt in (self.G_optim, self.D_optim):
            opt.param_groups[0]["lr"] = lr

    def train(self):
        for net in self.networks.values():
            net.train()

    def eval(self):
        for net in self.networks.values():
            net.eval()


class UGATIT(OfficialModel):
    """UGATIT.py's build_model() and the step of its train()."""

    def __init__(self, repo, light=True, ch=64, n_res=4, img_size=256, n_dis_global=7,
                 n_dis_local=5, lr=1e-4, weight_decay=1e-4, adv_weight=1.0, cycle_weight=10.0,
                 identity_weight=10.0, cam_weight=1000.0):
        sys.path.insert(0, repo)
        from networks import Discriminator, ResnetGenerator, RhoClipper
        gen = dict(input_nc=3, output_nc=3, ngf=ch, n_blocks=n_res, img_size=img_size,
                   light=bool(light))
        self.genA2B, self.genB2A = ResnetGenerator(**gen), ResnetGenerator(**gen)
        self.disGA = Discriminator(3, ch, n_dis_global)
        self.disGB = Discriminator(3, ch, n_dis_global)
        self.disLA = Discriminator(3, ch, n_dis_local)
        self.disLB = Discriminator(3, ch, n_dis_local)
        self.networks = {"genA2B": self.genA2B, "genB2A": self.genB2A, "disGA": self.disGA,
                         "disGB": self.disGB, "disLA": self.disLA, "disLB": self.disLB}
        self.G_optim = _adam((self.genA2B, self.genB2A), lr, weight_decay)
        self.D_optim = _adam((self.disGA, self.disGB, self.disLA, self.disLB), lr, weight_decay)
        self.clip = RhoClipper(0, 1)
        self.w = dict(adv=adv_weight, cycle=cycle_weight, identity=identity_weight,
                      cam=cam_weight)

    def _logits(self, pairs):
        return [o for d, x in pairs for o in d(x)[:2]]

    def step(self, real_A, real_B):
        w = self.w
        self.D_optim.zero_grad()
        fake_A2B, _, _ = self.genA2B(real_A)
        fake_B2A, _, _ = self.genB2A(real_B)
        real = self._logits(((self.disGA, real_A), (self.disLA, real_A),
                             (self.disGB, real_B), (self.disLB, real_B)))
        fake = self._logits(((self.disGA, fake_B2A), (self.disLA, fake_B2A),
                             (self.disGB, fake_A2B), (self.disLB, fake_A2B)))
        D_loss = w["adv"] * (_adv(real, 1.0) + _adv(fake, 0.0))
        D_loss.backward()
        self.D_optim.step()

        self.G_optim.zero_grad()
        fake_A2B, fake_A2B_cam, _ = self.genA2B(real_A)
        fake_B2A, fake_B2A_cam, _ = self.genB2A(real_B)
        fake_A2B2A, _, _ = self.genB2A(fake_A2B)
        fake_B2A2B, _, _ = self.genA2B(fake_B2A)
        fake_A2A, fake_A2A_cam, _ = self.genB2A(real_A)
        fake_B2B, fake_B2B_cam, _ = self.genA2B(real_B)
        fake = self._logits(((self.disGA, fake_B2A), (self.disLA, fake_B2A),
                             (self.disGB, fake_A2B), (self.disLB, fake_A2B)))
        G_loss = (w["adv"] * _adv(fake, 1.0)
                  + w["cycle"] * (L1(fake_A2B2A, real_A) + L1(fake_B2A2B, real_B))
                  + w["identity"] * (L1(fake_A2A, real_A) + L1(fake_B2B, real_B))
                  + w["cam"] * (_bce(fake_B2A_cam, 1) + _bce(fake_A2A_cam, 0)
                                + _bce(fake_A2B_cam, 1) + _bce(fake_B2B_cam, 0)))
        G_loss.backward()
        self.G_optim.step()
        self.genA2B.apply(self.clip)
        self.genB2A.apply(self.clip)
        return D_loss.item(), G_loss.item()

    def translate(self, direction, x):
        gen = self.genA2B if direction == "A2B" else self.genB2A
        return gen(x)[0]


class NICEGAN(OfficialModel):
    """NICE.py's build_model() and the step of its train(): the discriminators encode."""

    def __init__(self, repo, light=True, ch=64, n_res=6, n_dis=7, img_size=256, lr=1e-4,
                 weight_decay=1e-4, adv_weight=1.0, cycle_weight=10.0, recon_weight=10.0):
        sys.path.insert(0, repo)
        from networks import Discriminator, ResnetGenerator
        gen = dict(input_nc=3, output_nc=3, ngf=ch, n_blocks=n_res, img_size=img_size,
                   light=bool(light))
        self.gen2B, self.gen2A = ResnetGenerator(**gen), ResnetGenerator(**gen)
        self.disA, self.disB = Discriminator(3, ch, n_dis), Discriminator(3, ch, n_dis)
        self.networks = {"gen2B": self.gen2B, "gen2A": self.gen2A, "disA": self.disA,
                         "disB": self.disB}
        self.G_optim = _adam((self.gen2B, self.gen2A), lr, weight_decay)
        self.D_optim = _adam((self.disA, self.disB), lr, weight_decay)
        self.w = dict(adv=adv_weight, cycle=cycle_weight, recon=recon_weight)

    def step(self, real_A, real_B):
        w = self.w
        self.D_optim.zero_grad()
        real_LA, real_GA, real_A_cam, _, real_A_z = self.disA(real_A)
        real_LB, real_GB, real_B_cam, _, real_B_z = self.disB(real_B)
        fake_A2B = self.gen2B(real_A_z).detach()
        fake_B2A = self.gen2A(real_B_z).detach()
        fake_LA, fake_GA, fake_A_cam, _, _ = self.disA(fake_B2A)
        fake_LB, fake_GB, fake_B_cam, _, _ = self.disB(fake_A2B)
        D_loss = w["adv"] * (_adv((real_GA, real_A_cam, real_LA, real_GB, real_B_cam, real_LB),
                                  1.0)
                             + _adv((fake_GA, fake_A_cam, fake_LA, fake_GB, fake_B_cam, fake_LB),
                                    0.0))
        D_loss.backward()
        self.D_optim.step()

        self.G_optim.zero_grad()
        _, _, _, _, real_A_z = self.disA(real_A)
        _, _, _, _, real_B_z = self.disB(real_B)
        fake_A2B = self.gen2B(real_A_z)
        fake_B2A = self.gen2A(real_B_z)
        fake_LA, fake_GA, fake_A_cam, _, fake_A_z = self.disA(fake_B2A)
        fake_LB, fake_GB, fake_B_cam, _, fake_B_z = self.disB(fake_A2B)
        fake_B2A2B = self.gen2B(fake_A_z)
        fake_A2B2A = self.gen2A(fake_B_z)
        fake_A2A = self.gen2A(real_A_z)
        fake_B2B = self.gen2B(real_B_z)
        G_loss = (w["adv"] * _adv((fake_GA, fake_A_cam, fake_LA, fake_GB, fake_B_cam, fake_LB),
                                  1.0)
                  + w["cycle"] * (L1(fake_A2B2A, real_A) + L1(fake_B2A2B, real_B))
                  + w["recon"] * (L1(fake_A2A, real_A) + L1(fake_B2B, real_B)))
        G_loss.backward()
        self.G_optim.step()
        return D_loss.item(), G_loss.item()

    def translate(self, direction, x):
        enc, gen = (self.disA, self.gen2B) if direction == "A2B" else (self.disB, self.gen2A)
        return gen(enc(x)[4])
