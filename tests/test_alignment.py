"""Against the official numbers, beyond the contract every model keeps
(tests/test_model_contract.py): what the checks catch."""
import os

import numpy as np
import pytest

import ppugatit.models.ugatit.model as ugatit_model
from conftest import FIXTURES, perturbed
from ppugatit.alignment import (LOSS_RTOL, TRAJECTORY_NOISE_FACTOR, compare, noise_floor,
                                 check_fixture, load_fixture)
from ppugatit.models.base import GANModel

def light_fixture() -> dict:
    return load_fixture(os.path.join(FIXTURES, "ugatit_light_step.npz"))


def test_a_perturbed_discriminator_weight_is_caught(tmp_path):
    rows = check_fixture(load_fixture(perturbed(tmp_path, light_fixture(),
                                                "before/disLA/model.4.weight_orig")))
    failed = {r.name for r in rows if not r.ok}
    assert "after/disLA/model.4.weight_orig" in failed
    assert all(name.startswith("after/disLA/") for name in failed)


def _late_schedule(self, batch):
    losses = self.train_step(batch)
    self.step_schedulers()
    return losses


def _gradients_kept(self, loss, name):
    loss.backward()
    self.optimizers[name].step()


@pytest.mark.slow
@pytest.mark.parametrize("fixture_name", ["ugatit_trajectory.npz", "nicegan_trajectory.npz"])
@pytest.mark.parametrize("bug", ["gradients kept", "schedule one late", "no rho clipping"])
def test_the_trajectory_catches_what_one_step_cannot(monkeypatch, bug, fixture_name):
    """Three trainer bugs that leave the first step exact: gradients not cleared after an
    update (the next one adds them), the lr schedule advanced after the step instead of
    before, rho not clipped (it only leaves [0, 1] after some steps). The step fixture passes
    each; the ten-step trajectory fails each (what it measured: update error 4.9/1.8, 0.49/0.16
    and 4.3 of the update's size, against 0.03/0.01 for the float64 official run, 0.012/
    0.009 for ours and 0.24 to 0.29 for ours with the kernels off; the bound is 0.35)."""
    if bug == "no rho clipping" and fixture_name.startswith("nicegan"):
        pytest.skip("NICE-GAN's rho is a softmax weight: nothing is clipped")
    patch = {"gradients kept": (GANModel, "backward_and_step", _gradients_kept),
             "schedule one late": (GANModel, "train_iteration", _late_schedule),
             "no rho clipping": (ugatit_model, "clip_rho", lambda network: None)}[bug]
    monkeypatch.setattr(*patch)
    step = load_fixture(os.path.join(FIXTURES, fixture_name.split("_")[0] + "_light_step.npz"))
    assert all(r.ok for r in check_fixture(step))
    rows = check_fixture(load_fixture(os.path.join(FIXTURES, fixture_name)))
    assert [r.name for r in rows if not r.ok]
    # the weights after the ten steps are off, not only a loss on the way; NICE-GAN's late
    # schedule moves them 0.16 of their update, under the bound, and fails on its losses
    if not (bug == "schedule one late" and fixture_name.startswith("nicegan")):
        assert [r.name for r in rows if not r.ok and r.name.startswith("after/")]


def test_a_trajectory_loss_is_held_to_the_official_codes_own_rounding():
    """A loss k steps into a trajectory may be off by what the official float32 run itself is
    off from its float64 twin at any step up to k (x TRAJECTORY_NOISE_FACTOR), and never by
    less than LOSS_RTOL: at 128 px the official run is 2e-5 from float64 by step 2 and 3e-3
    by step 8, where a 1e-5 check fails an exact port (docs/alignment.md)."""
    fixture = {"trajectory/1/G_loss": 100.0, "float64/trajectory/1/G_loss": 100.00001,
               "trajectory/2/G_loss": 100.0, "float64/trajectory/2/G_loss": 100.1,
               "trajectory/3/G_loss": 100.0, "float64/trajectory/3/G_loss": 100.0}

    def ok(key, ours):
        return compare(key, np.float64(fixture[key]), np.float64(ours), fixture, {}).ok

    assert ok("trajectory/1/G_loss", 100.0005) and not ok("trajectory/1/G_loss", 100.002)
    # step 2's gap (1e-3) carries to step 3, whose own gap is 0
    assert ok("trajectory/3/G_loss", 100.2) and not ok("trajectory/3/G_loss", 100.4)
    # the shipped 64 px trajectories stay at LOSS_RTOL throughout
    for name in ("ugatit_trajectory.npz", "nicegan_trajectory.npz"):
        shipped = load_fixture(os.path.join(FIXTURES, name))
        for key in (k for k in shipped if k.startswith("trajectory/")):
            assert TRAJECTORY_NOISE_FACTOR * noise_floor(shipped, key) < LOSS_RTOL, key
