"""The adversarial and auxiliary losses of the three models, as their official codes write them."""
from __future__ import annotations

import paddle
import paddle.nn.functional as F


def mse_to(x: paddle.Tensor, target: float) -> paddle.Tensor:
    """LSGAN: ``nn.MSELoss()(x, full_like(x, target))``."""
    return F.mse_loss(x, paddle.full_like(x, target))


def bce_to(logit: paddle.Tensor, target: float) -> paddle.Tensor:
    """``nn.BCEWithLogitsLoss()(logit, full_like(logit, target))`` (U-GAT-IT's CAM loss)."""
    return F.binary_cross_entropy_with_logits(logit, paddle.full_like(logit, target))


def hinge_d_loss(real_logit: paddle.Tensor, fake_logit: paddle.Tensor
                 ) -> tuple[paddle.Tensor, paddle.Tensor]:
    """The discriminator's hinge loss, as two terms: mean relu(1 - D(x)), mean relu(1 + D(G(z)))."""
    return F.relu(1.0 - real_logit).mean(), F.relu(1.0 + fake_logit).mean()


def hinge_g_loss(fake_logit: paddle.Tensor) -> paddle.Tensor:
    """The generator's side of the hinge loss: -mean D(G(z))."""
    return -fake_logit.mean()
