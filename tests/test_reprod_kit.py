"""The camp's log_reprod/ folder: reprod_log's files, passing on the official fixtures and
failing on a perturbed network."""
import logging
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import FIXTURES, ROOT, tiny_overrides
from ppugatit import checkpoint, reprod_kit
from ppugatit.alignment import fixture_model, fixture_weights, load_fixture
from ppugatit.config import build_config
from ppugatit.engine import Trainer
from ppugatit.errors import ConfigError, DataError
from ppugatit.metrics import reference
from ppugatit.reprod_kit import CHECKS, make_kit, run_checks, step_checks, write_check


@pytest.mark.slow
def test_ugatit_kit_passes_on_the_official_fixtures(tmp_path):
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    results = make_kit("ugatit", str(tmp_path), FIXTURES)
    assert results == {name: True for name in CHECKS}
    assert root.handlers == handlers and root.level == level  # reprod_log's set-up undone
    for name in CHECKS:
        side = "benchmark" if name == "train_align" else "torch"
        for f in (f"{name}_paddle.npy", f"{name}_{side}.npy"):
            data = np.load(tmp_path / f, allow_pickle=True).tolist()
            assert isinstance(data, dict) and data
        log = (tmp_path / f"{name}_diff.log").read_text().splitlines()
        assert log[-1] == "diff check passed"
        assert not any("check passed: False" in line for line in log)
    torch_side = np.load(tmp_path / "forward_torch.npy", allow_pickle=True).tolist()
    fixture = load_fixture(os.path.join(FIXTURES, "ugatit_light_step.npz"))
    np.testing.assert_array_equal(torch_side["genA2B.fake"],
                                  fixture["eval_forward/genA2B/out"])


@pytest.mark.slow
def test_a_weights_file_with_one_perturbed_tensor_fails_the_command(tmp_path):
    path = os.path.join(FIXTURES, "ugatit_light_step.npz")
    fixture = load_fixture(path)
    weights = fixture_weights(fixture_model(fixture, path, weights=False), fixture)
    name = next(k for k in weights["genA2B"] if k.endswith("weight"))
    weights["genA2B"][name] = np.asarray(weights["genA2B"][name]) * 1.01
    checkpoint.save(weights, str(tmp_path / "perturbed.pdparams"))
    kit = tmp_path / "log_reprod"
    done = subprocess.run(
        [sys.executable, os.path.join(ROOT, "tools", "check_alignment.py"), "--model", "ugatit",
         "--reprod-log", str(kit), "--fixtures", FIXTURES,
         "--forward-weights", str(tmp_path / "perturbed.pdparams")],
        capture_output=True, text=True, timeout=600)
    assert done.returncode == 1, done.stdout + done.stderr
    status = dict(line.split() for line in done.stdout.splitlines() if len(line.split()) == 2)
    assert status["forward"] == "FAILED"
    assert status["bp_align"] == status["metric"] == "passed"  # not from this file
    log = (kit / "forward_diff.log").read_text().splitlines()
    assert log[-1] == "diff check failed"
    at = next(i for i, line in enumerate(log) if line.endswith("genA2B.fake: "))
    assert "check passed: False" in log[at + 1]
    assert "# forward: 2/3 groups passed" in log  # the discriminators are untouched


def test_a_missing_fixture_is_named(tmp_path):
    with pytest.raises(DataError, match="ugatit_light_step.npz: fixture not found"):
        make_kit("ugatit", str(tmp_path / "out"), str(tmp_path))


def test_a_key_mismatch_is_named(tmp_path):
    path = os.path.join(FIXTURES, "sagan_step.npz")
    forward, _ = step_checks(load_fixture(path), path)
    forward.reference["G.extra"] = np.zeros(1)
    with pytest.raises(DataError, match="'G.extra'"):
        write_check(forward, str(tmp_path))


def test_reference_formulas_match_nicegan():
    with np.load(os.path.join(FIXTURES, "kid_fid_reference.npz")) as ref:
        fid = reference.frechet_distance(ref["features/fake"], ref["features/real"])
        assert abs(fid - ref["fid"]) <= 1e-6 * ref["fid"]
        mmd2 = reference.kid_subsets(ref["features/fake"], ref["features/real"],
                                     ref["kid/subset_index_fake"], ref["kid/subset_index_real"])
        np.testing.assert_allclose(mmd2, ref["kid/subset_mmd2"], rtol=0, atol=1e-9)


def test_a_run_unlike_the_paper_is_refused_naming_the_key(tmp_path):
    data = tmp_path / "selfie2anime"
    weights = os.path.join(FIXTURES, "ugatit_light_official.pt")
    with pytest.raises(ConfigError, match=r"model\.light is True, the paper's setting is False"):
        run_checks(weights, str(data), "random:0")
    with pytest.raises(ConfigError, match="not 'horses'"):
        run_checks(weights, str(tmp_path / "horses"), "random:0")


@pytest.mark.slow
def test_a_trained_run_fills_metric_and_train_align(tmp_path, monkeypatch):
    """The --weights route end to end on a tiny run: its FID/KID against the reference
    formulas pass, and an untrained model is far from the paper's KID, so train_align fails."""
    trainer = Trainer(build_config(os.path.join(ROOT, "configs", "demo.yaml"),
                                   tiny_overrides(tmp_path)))
    trainer.train()
    data = tmp_path / "selfie2anime"  # the data set the paper's number belongs to
    for folder in ("testA", "testB"):  # four pictures a side: Inception at 299 px is slow
        (data / folder).mkdir(parents=True)
        for picture in sorted((tmp_path / "data" / folder).iterdir())[:4]:
            shutil.copy(picture, data / folder)
    monkeypatch.setattr(reprod_kit, "OFFICIAL_SETTINGS", [])  # the paper's model is too slow here
    out = tmp_path / "out"
    results = make_kit("ugatit", str(tmp_path / "kit"), FIXTURES, run=str(out / "weights.pdparams"),
                       data=str(data), inception_weights="random:0",
                       config=str(out / "config.yaml"))
    assert results == {"forward": True, "metric": True, "loss": True, "bp_align": True,
                       "train_align": False}
    metric = np.load(tmp_path / "kit" / "metric_paddle.npy", allow_pickle=True).tolist()
    assert set(metric) == {f"{d}.{k}" for d in ("A2B", "B2A") for k in ("fid", "kid.mean", "kid.std")}
    log = (tmp_path / "kit" / "train_align_diff.log").read_text()
    assert "WARNING: random Inception weights" in log and "11.61" in log
