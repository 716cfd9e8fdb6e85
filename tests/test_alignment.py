"""The port against the official implementation's own numbers (fixtures from ../shared)."""
import os
import subprocess
import sys

import pytest

from conftest import FIXTURES, ROOT, perturbed
from ppugatit.alignment import check_fixture, load_fixture

TOOL = os.path.join(ROOT, "tools", "check_alignment.py")


def run_tool(*fixtures):
    return subprocess.run([sys.executable, TOOL, "--fixture", *fixtures], capture_output=True,
                          text=True, cwd=ROOT)


def test_tool_passes_on_the_official_light_fixture():
    proc = run_tool(os.path.join(FIXTURES, "ugatit_light_step.npz"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "220/220 checks pass" in proc.stdout


@pytest.mark.parametrize("name", ["ugatit_light_step.npz", "ugatit_full_step.npz"])
def test_every_row_passes(name):
    fixture = load_fixture(os.path.join(FIXTURES, name))
    rows = check_fixture(fixture)
    sections = {r.name.split("/")[0] for r in rows}
    assert sections == {"eval_forward", "train_forward", "step", "after"}
    # every recorded tensor is checked: nothing silently skipped
    recorded = [k for k in fixture if k.split("/")[0] in sections]
    assert len(rows) == len(recorded)
    assert [r.name for r in rows if not r.ok] == []


def light_fixture() -> dict:
    return load_fixture(os.path.join(FIXTURES, "ugatit_light_step.npz"))


def test_tool_fails_when_one_weight_is_perturbed(tmp_path):
    path = perturbed(tmp_path, light_fixture(), "before/genA2B/UpBlock1_1.conv1.weight")
    proc = run_tool(path)
    assert proc.returncode == 1
    fail_rows = [line for line in proc.stdout.splitlines() if "FAIL" in line and "/" in line]
    assert any(line.startswith("eval_forward/genA2B/out") for line in fail_rows), proc.stdout
    assert any(line.startswith("after/genA2B/UpBlock1_1.conv1.weight") for line in fail_rows)
    assert proc.stdout.strip().splitlines()[-1].endswith("FAIL")


def test_a_perturbed_discriminator_weight_is_caught(tmp_path):
    rows = check_fixture(load_fixture(perturbed(tmp_path, light_fixture(),
                                                "before/disLA/model.4.weight_orig")))
    failed = {r.name for r in rows if not r.ok}
    assert "after/disLA/model.4.weight_orig" in failed
    assert all(name.startswith("after/disLA/") for name in failed)
