"""U-GAT-IT against the official numbers, beyond the contract every model keeps
(tests/test_model_contract.py)."""
import os

from conftest import FIXTURES, perturbed
from ppugatit.alignment import check_fixture, load_fixture

def light_fixture() -> dict:
    return load_fixture(os.path.join(FIXTURES, "ugatit_light_step.npz"))


def test_a_perturbed_discriminator_weight_is_caught(tmp_path):
    rows = check_fixture(load_fixture(perturbed(tmp_path, light_fixture(),
                                                "before/disLA/model.4.weight_orig")))
    failed = {r.name for r in rows if not r.ok}
    assert "after/disLA/model.4.weight_orig" in failed
    assert all(name.startswith("after/disLA/") for name in failed)
