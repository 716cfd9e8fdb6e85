"""The contract every model of ``ppugatit.models.MODELS`` keeps, parametrised over the table:
aligned with its official code (CPU kernels on and off), a perturbed weight caught, exact
resume, the demo config trains, the export predicts the dygraph numbers. A new model adds a
row to CONTRACT; what is particular to one model stays in its own test file."""
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import FIXTURES, ROOT, assert_same_weights, perturbed, train_until_interrupted
from ppugatit import checkpoint
from ppugatit.alignment import check_fixture, load_fixture, recorded_keys
from ppugatit.config import build_config
from ppugatit.engine import Trainer
from ppugatit.models.descriptions import DESCRIPTIONS
from ppugatit.models.table import MODELS

TOOL = os.path.join(ROOT, "tools", "check_alignment.py")
TINY = {"dataset.num_workers": 0, "train.iterations": 4, "train.log_interval": 2,
        "train.sample_interval": 2, "train.save_interval": 2, "train.sample_num": 2}

CONTRACT = {
    "ugatit": {
        "fixtures": ["ugatit_light_step.npz", "ugatit_full_step.npz", "ugatit_trajectory.npz"],
        # a generator weight: the translation and that weight's update must fail
        "perturb": ("before/genA2B/UpBlock1_1.conv1.weight", "eval_forward/genA2B/out"),
        "demo": "demo.yaml",
        "tiny": {"model.ch": 4, "model.n_res": 1, "model.img_size": 32,
                 "model.n_dis_global": 5, "model.n_dis_local": 3},
        "export": ["model.ch=4", "model.n_res=1"],
    },
    "nicegan": {
        "fixtures": ["nicegan_light_step.npz", "nicegan_trajectory.npz"],
        "perturb": ("before/gen2B/UpBlock2.17.weight", "eval_forward/gen2B/out"),
        "demo": "demo_nicegan.yaml",
        "tiny": {"model.ch": 4, "model.n_res": 1, "model.n_dis": 6, "model.img_size": 48},
        "export": ["model.ch=4", "model.n_res=1"],
    },
    "sagan": {
        "fixtures": ["sagan_step.npz"],
        "perturb": ("before/G/last.0.weight", "eval_forward/G/out"),
        "demo": "demo_sagan.yaml",
        "tiny": {"model.conv_dim": 8, "model.z_dim": 16, "train.batch_size": 2},
        "export": ["model.conv_dim=8", "model.z_dim=16"],
    },
}
FIXTURE_CASES = [(m, f) for m, c in CONTRACT.items() for f in c["fixtures"]]


def tiny_config(model: str, tmp_path, **extra):
    over = {"output_dir": str(tmp_path / "out"), "dataset.root": str(tmp_path / "data"),
            **TINY, **CONTRACT[model]["tiny"], **extra}
    return build_config(os.path.join(ROOT, "configs", CONTRACT[model]["demo"]), over)


def test_every_model_has_defaults_a_contract_and_a_fixture_of_its_networks():
    assert set(MODELS) == set(DESCRIPTIONS) == set(CONTRACT)
    for name, cls in MODELS.items():
        described = DESCRIPTIONS[name]
        assert cls.description is described and cls.DEFAULTS is described.defaults
        assert cls.__module__ == f"ppugatit.models.{name}.model"  # its folder holds it
        for fixture_name in {described.step_fixture, described.trajectory_fixture} - {None}:
            assert fixture_name in CONTRACT[name]["fixtures"], fixture_name
        for fixture_name in CONTRACT[name]["fixtures"]:
            fixture = load_fixture(os.path.join(FIXTURES, fixture_name))
            nets = {k.split("/")[1] for k in fixture if k.startswith("before/")}
            assert nets == set(cls.official_networks), fixture_name


@pytest.mark.slow
@pytest.mark.parametrize("kernels", [True, False], ids=["kernels-on", "kernels-off"])
@pytest.mark.parametrize("model, fixture_name", FIXTURE_CASES)
def test_aligned_with_the_official_numbers(model, fixture_name, kernels):
    """Every tensor the official run recorded is checked, and passes, whether the layers run
    through the CPU kernels (as training does) or through their reference code."""
    fixture = load_fixture(os.path.join(FIXTURES, fixture_name))
    rows = check_fixture(fixture, fixture_name, kernels=kernels)
    assert [r.name for r in rows] == recorded_keys(fixture)  # nothing skipped, nothing invented
    assert [r.name for r in rows if not r.ok] == []


@pytest.mark.slow
@pytest.mark.parametrize("model", list(CONTRACT))
def test_the_tool_passes_and_catches_a_perturbed_weight(model, tmp_path):
    name = CONTRACT[model]["fixtures"][0]
    path = os.path.join(FIXTURES, name)
    fixture = load_fixture(path)
    weight, output = CONTRACT[model]["perturb"]
    bad = perturbed(tmp_path, fixture, weight)
    proc = subprocess.run([sys.executable, TOOL, "--fixture", path, bad], capture_output=True,
                          text=True, cwd=ROOT)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    good_report, bad_report = proc.stdout.split("== ")[1:]
    n = len(recorded_keys(fixture))
    assert f"{n}/{n} checks pass" in good_report
    failed = [line.split()[0] for line in bad_report.splitlines() if " FAIL" in line]
    assert output in failed, bad_report
    assert "after/" + weight[len("before/"):] in failed, bad_report
    assert bad_report.strip().splitlines()[-1].endswith("FAIL")


@pytest.mark.slow
@pytest.mark.parametrize("model", list(CONTRACT))
def test_the_demo_config_trains(model, tmp_path):
    cfg = tiny_config(model, tmp_path)
    assert cfg.model.name == model
    Trainer(cfg).train()
    out = tmp_path / "out"
    assert build_config(str(out / "config.yaml")).model.name == model
    assert sorted(os.listdir(out / "checkpoints")) == ["iter_0000002.pdckpt",
                                                       "iter_0000004.pdckpt", "latest.pdckpt"]
    weights = checkpoint.load(str(out / "weights.pdparams"))
    assert sorted(weights) == sorted(MODELS[model].official_networks)
    assert all(np.isfinite(np.asarray(t)).all() for sd in weights.values() for t in sd.values())
    line = [ln for ln in (out / "train.log").read_text().splitlines() if "iter 4/4" in ln][0]
    for field in ("D_loss", "G_loss", "avg_reader_cost", "avg_batch_cost", "ips", "eta"):
        assert field in line, line


@pytest.mark.slow
@pytest.mark.parametrize("model", list(CONTRACT))
def test_resume_is_exact(model, tmp_path):
    """Interrupted at 3 of 6 and resumed, bit for bit the uninterrupted run: weights, buffers
    (spectral-norm u and v, BatchNorm statistics), iteration and schedules."""
    more = {"train.iterations": 6}
    Trainer(tiny_config(model, tmp_path / "straight", **more)).train()
    train_until_interrupted(Trainer(tiny_config(model, tmp_path / "split", **more)), 3)
    latest = tmp_path / "split" / "out" / "checkpoints" / "latest.pdckpt"
    assert checkpoint.load(str(latest))["iteration"] == 3
    Trainer(tiny_config(model, tmp_path / "split", **more), resume=True).train()
    runs = [tmp_path / side / "out" for side in ("straight", "split")]
    assert_same_weights(*(checkpoint.load(str(r / "weights.pdparams")) for r in runs))
    ca, cb = (checkpoint.load(str(r / "checkpoints" / "latest.pdckpt")) for r in runs)
    assert ca["iteration"] == cb["iteration"] == 6
    assert ca["model"]["schedulers"] == cb["model"]["schedulers"]


EXPORT = """
import numpy as np
import paddle
from ppugatit.attention import SelfAttention
from ppugatit.config import build_config
from ppugatit.export.predictors import Predictor
from ppugatit.export.program import export_model
from ppugatit.inference import dygraph_runner, z_dim
from ppugatit.models.table import MODELS
cfg = build_config({config!r}, {overrides!r})
model = MODELS[cfg.model.name](cfg)
for net in model.networks.values():  # a fresh attention block is the identity: wake it up
    for layer in net.sublayers():
        if isinstance(layer, SelfAttention):
            layer.gamma.set_value(paddle.full([1], 0.5))
meta = export_model(model, {out!r})
rng = np.random.default_rng(0)
if model.task == "generation":
    x = rng.standard_normal((2, z_dim(model))).astype("float32")
    ref = dygraph_runner(model.sampler())(x)[0]
else:
    x = rng.uniform(-1, 1, (2, 3, cfg.model.img_size, cfg.model.img_size)).astype("float32")
    ref = dygraph_runner(model.translator("A2B"))(x)[0]
got = Predictor({out!r})(x)[0]
print(meta["onednn"], float(np.abs(got - ref).max()))
"""


@pytest.mark.parametrize("model, extra", [(m, []) for m in CONTRACT]
                         + [("ugatit", ["model.self_attention=true"])],
                         ids=list(CONTRACT) + ["ugatit-self-attention"])
@pytest.mark.slow
def test_the_export_predicts_the_dygraph_numbers(model, extra, tmp_path):
    """Paddle Inference, with oneDNN where the model allows it (the default), within 1e-4;
    in a process of its own, as deploy runs it."""
    code = EXPORT.format(config=os.path.join(ROOT, "configs", CONTRACT[model]["demo"]),
                         overrides=CONTRACT[model]["export"] + extra,
                         out=str(tmp_path / "export"))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    used_onednn, diff = proc.stdout.split()[-2:]
    assert used_onednn == str(MODELS[model].onednn_inference)
    assert float(diff) <= 1e-4
