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


TOY_DESCRIPTION = '''
from ppugatit.models.description import Description
from ppugatit.models.ugatit import DEFAULTS

DESCRIPTION = Description(
    name="toy", model_class="toy_gan.model:Toy",
    defaults={**DEFAULTS, "output_dir": "output/toy",
              "model": {**DEFAULTS["model"], "name": "toy", "toy_width": 3}},
    official_networks=())
'''
TOY_MODEL = '''
import paddle.nn.functional as F

from ppugatit.models.ugatit.model import UGATIT
from toy_gan import DESCRIPTION


class Toy(UGATIT):
    """U-GAT-IT whose G also pulls its translations towards grey: a model of its own."""
    description = DESCRIPTION
    DEFAULTS = DESCRIPTION.defaults
    official_networks = DESCRIPTION.official_networks

    def G_losses(self, x):
        losses = super().G_losses(x)
        losses["G_grey_loss"] = F.l1_loss(x.fake_A2B, x.fake_A2B * 0)
        losses["G_loss"] = losses["G_loss"] + losses["G_grey_loss"]
        return losses
'''


@pytest.mark.slow
def test_a_new_model_is_one_folder_and_one_line_in_the_table(tmp_path, monkeypatch):
    """The design's test: a fourth model is its folder (description and class) plus its line
    in models/descriptions.py; the config checker, the Trainer and inference need nothing
    more. (The table of classes is built from the descriptions when it is imported, so here,
    after import, the same line is added to both.)"""
    import sys

    from ppugatit.inference import infer
    from ppugatit.models.description import load

    (tmp_path / "toy_gan").mkdir()
    (tmp_path / "toy_gan" / "__init__.py").write_text(TOY_DESCRIPTION)
    (tmp_path / "toy_gan" / "model.py").write_text(TOY_MODEL)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("toy_gan", None)
    import toy_gan

    monkeypatch.setitem(DESCRIPTIONS, "toy", toy_gan.DESCRIPTION)
    monkeypatch.setitem(MODELS, "toy", load(toy_gan.DESCRIPTION.model_class))
    over = {**TINY, **CONTRACT["ugatit"]["tiny"], "model.name": "toy", "model.toy_width": 5,
            "output_dir": str(tmp_path / "out"), "dataset.root": str(tmp_path / "data"),
            "dataset.demo": True}
    cfg = build_config(overrides=over)
    assert cfg.model.toy_width == 5 and cfg.output_dir == str(tmp_path / "out")
    with pytest.raises(Exception, match="model.toy_widht.*did you mean 'model.toy_width'"):
        build_config(overrides={**over, "model.toy_widht": 1})
    trainer = Trainer(cfg)
    trainer.train()
    assert "G_grey_loss" in trainer.model.train_step(trainer.sample_batch)
    line = infer(str(tmp_path / "out" / "weights.pdparams"), str(tmp_path / "pictures"),
                 str(tmp_path / "data" / "testA"), device="cpu")
    assert line.startswith("translated (A2B)")
