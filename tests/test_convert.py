"""Reading official PyTorch checkpoints without PyTorch, safely."""
import os
import pickle
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from conftest import FIXTURES, ROOT
from ppugatit.weights import torch_pickle
from ppugatit.alignment import fixture_config, load_fixture
from ppugatit.checkpoint import load as load_pdparams
from ppugatit.config import build_config
from ppugatit.errors import CheckpointError
from ppugatit.models.ugatit.model import UGATIT

PT = os.path.join(FIXTURES, "ugatit_light_official.pt")
TOOL = os.path.join(ROOT, "tools", "convert_weights.py")


def light_model():
    fixture = load_fixture(os.path.join(FIXTURES, "ugatit_light_step.npz"))
    return UGATIT(build_config(overrides=fixture_config(fixture))), fixture


def test_reader_gives_the_official_arrays():
    ckpt = torch_pickle.load(PT)
    fixture = load_fixture(os.path.join(FIXTURES, "ugatit_light_step.npz"))
    assert sorted(ckpt) == sorted(["genA2B", "genB2A", "disGA", "disGB", "disLA", "disLB"])
    keys = [k for k in fixture if k.startswith("before/")]
    assert sum(len(sd) for sd in ckpt.values()) == len(keys)
    for key in keys:
        _, net, name = key.split("/", 2)
        np.testing.assert_array_equal(ckpt[net][name], fixture[key])


@pytest.mark.slow
def test_convert_tool_output_equals_fixture_before_weights(tmp_path):
    dst = tmp_path / "ugatit.pdparams"
    proc = subprocess.run([sys.executable, TOOL, "--src", PT, "--dst", str(dst), "-o",
                           "model.light=true", "model.ch=4", "model.n_res=2", "model.img_size=128"],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    weights = load_pdparams(str(dst))
    model, fixture = light_model()
    linear = {"gap_fc.weight", "gmp_fc.weight", "FC.0.weight", "FC.2.weight", "gamma.weight",
              "beta.weight", "gap_fc.weight_orig", "gmp_fc.weight_orig"}
    n = 0
    for key in (k for k in fixture if k.startswith("before/")):
        _, net, name = key.split("/", 2)
        ours = np.asarray(weights[net][name])
        ref = fixture[key].T if name in linear else fixture[key]
        np.testing.assert_array_equal(ours, ref)
        n += 1
    assert n == 188
    model.load_weights(weights)  # loads into the networks without complaint


def _zip_pt(tmp_path, payload: bytes) -> str:
    path = tmp_path / "evil.pt"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("evil/data.pkl", payload)
        z.writestr("evil/version", "3\n")
    return str(path)


class _Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned > /tmp/ppugatit_pwned",))


def test_a_pickle_referencing_another_global_is_refused(tmp_path):
    path = _zip_pt(tmp_path, pickle.dumps({"genA2B": _Exploit()}, protocol=2))
    with pytest.raises(CheckpointError, match=r"refusing to load.*(posix|os)\.system"):
        torch_pickle.load(path)
    assert not os.path.exists("/tmp/ppugatit_pwned")


@pytest.mark.slow
def test_refused_by_the_tool_with_one_line(tmp_path):
    path = _zip_pt(tmp_path, pickle.dumps({"x": _Exploit()}, protocol=2))
    proc = subprocess.run([sys.executable, TOOL, "--src", path, "--dst", str(tmp_path / "o.pdparams")],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "refusing to load" in proc.stderr
    assert not (tmp_path / "o.pdparams").exists()


def test_truncated_and_foreign_files_get_clear_errors(tmp_path):
    data = open(PT, "rb").read()
    cut = tmp_path / "cut.pt"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="cut.pt"):
        torch_pickle.load(str(cut))
    text = tmp_path / "notes.pt"
    text.write_text("hello")
    with pytest.raises(CheckpointError, match="not a PyTorch checkpoint"):
        torch_pickle.load(str(text))
    with pytest.raises(CheckpointError, match="file not found"):
        torch_pickle.load(str(tmp_path / "missing.pt"))


def test_a_checkpoint_of_another_configuration_is_refused():
    ckpt = torch_pickle.load(PT)
    cfg = build_config(overrides={"model.light": True, "model.ch": 8, "model.n_res": 2,
                                  "model.img_size": 128})
    from ppugatit.weights.layout import convert_official
    with pytest.raises(CheckpointError, match="genA2B.*has shape .* but this model needs"):
        convert_official(UGATIT(cfg), ckpt, "x.pt")


@pytest.mark.parametrize("name", ["legacy_format.pt", "zip_format.pt"])
def test_files_written_by_real_torch_save(name):
    """Made by torch 2.13 (tests/fixtures/make_torch_files.py): both serialisation formats,
    several dtypes, a non-contiguous tensor, a scalar and nested containers."""
    ckpt = torch_pickle.load(os.path.join(FIXTURES, name))
    ref = np.load(os.path.join(FIXTURES, "torch_files_expected.npz"))
    for key in ref.files:
        net, k = key.split("__")
        np.testing.assert_array_equal(ckpt[net][k], ref[key])
        assert ckpt[net][k].dtype == ref[key].dtype
    assert ckpt["meta"]["step"] == 7 and ckpt["meta"]["tags"] == ["a", "b"]
