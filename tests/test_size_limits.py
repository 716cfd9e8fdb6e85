"""The config limits against the official networks.

``fixtures/size_limits.json`` records which image sizes (32-256 px in steps of 2) and
discriminator depths (3-8) the official networks run, light and full: made by
``fixtures/make_size_limits.py`` with PyTorch from the fetched official code. Our checker walks
a batch through our own networks (``ppugatit/shape_walk.py``); it must accept exactly what the
official runs, refuse the rest in one line naming the setting and the layer, and what it
accepts must train.
"""
import json
import os
import subprocess
import sys

import numpy as np
import paddle
import pytest

from conftest import FIXTURES, ROOT
from ppugatit import shape_walk
from ppugatit.config import build_config
from ppugatit.errors import ConfigError
from ppugatit.models.table import MODELS

OFFICIAL = json.load(open(os.path.join(FIXTURES, "size_limits.json")))
SIZES = OFFICIAL["sizes"]
DEPTHS = OFFICIAL["depths"]


def model_settings(name: str, **over):
    return build_config(overrides={"model.name": name, "model.ch": 4, "model.n_res": 1,
                                   **over}).model


def accepted(probe: shape_walk.Probe, m, **over) -> list[int]:
    """The sizes at which our walk lets ``probe`` through, with the refusals' messages."""
    sizes, refusals = [], []
    for size in SIZES:
        problem = shape_walk.walk(probe, {**m, **over, "img_size": size})
        (refusals if problem else sizes).append(problem or size)
    return sizes, refusals


def test_the_fixture_covers_the_grid_and_the_issue_case():
    assert SIZES[0] == 32 and SIZES[-1] == 256 and len(SIZES) == 113
    assert DEPTHS == [3, 4, 5, 6, 7, 8]
    # the case the issue reports: the official global discriminator (7 layers) runs at 96 px
    assert 96 in OFFICIAL["ugatit"]["discriminator"]["7"]["runs"]
    assert 94 not in OFFICIAL["ugatit"]["discriminator"]["7"]["runs"]


@pytest.mark.slow
@pytest.mark.parametrize("light", ["light", "full"])
def test_ugatit_generator_takes_exactly_the_official_sizes(light):
    m = model_settings("ugatit", **{"model.light": light == "light"})
    generator = MODELS["ugatit"].probes(m)[0]
    assert generator.networks == ("genA2B",)
    sizes, refusals = accepted(generator, m)
    assert sizes == OFFICIAL["ugatit"]["generator"][light]["runs"]
    for problem in refusals:
        assert "genA2B" in problem and "\n" not in problem


@pytest.mark.slow
@pytest.mark.parametrize("depth", DEPTHS)
def test_ugatit_discriminator_takes_exactly_the_official_sizes(depth):
    m = model_settings("ugatit", **{"model.n_dis_global": depth})
    dis = MODELS["ugatit"].probes(m)[1]
    assert dis.networks == ("disGA",)
    sizes, refusals = accepted(dis, m)
    assert sizes == OFFICIAL["ugatit"]["discriminator"][str(depth)]["runs"]
    for problem in refusals:
        assert problem.startswith("layer disGA.") and "\n" not in problem


@pytest.mark.slow
@pytest.mark.parametrize("light", ["light", "full"])
@pytest.mark.parametrize("depth", DEPTHS)
def test_nicegan_takes_exactly_the_official_settings(light, depth):
    m = model_settings("nicegan", **{"model.light": light == "light", "model.n_dis": depth})
    (probe,) = MODELS["nicegan"].probes(m)
    sizes, refusals = accepted(probe, m)
    assert sizes == OFFICIAL["nicegan"][f"{light}/{depth}"]["runs"]
    for problem in refusals:
        assert ("disA" in problem or "gen2B" in problem) and "\n" not in problem


@pytest.mark.slow
@pytest.mark.parametrize("global_, local", [(7, 5), (6, 4), (8, 3)])
def test_ugatit_checker_accepts_where_every_official_network_runs(global_, local):
    """The whole checker (all probes together) on the combined grid, light."""
    m = model_settings("ugatit", **{"model.light": True, "model.n_dis_global": global_,
                                    "model.n_dis_local": local})
    probes = MODELS["ugatit"].probes(m)
    official = OFFICIAL["ugatit"]
    for size in SIZES:
        runs = (size in official["generator"]["light"]["runs"]
                and size in official["discriminator"][str(global_)]["runs"]
                and size in official["discriminator"][str(local)]["runs"])
        settings = {**m, "img_size": size}
        assert all(shape_walk.walk(p, settings) is None for p in probes) == runs, size


def test_the_issue_case_is_accepted_and_its_neighbour_refused_with_the_way_out():
    cfg = build_config(os.path.join(ROOT, "configs", "ugatit_light.yaml"),
                       {"model.img_size": 96})
    MODELS["ugatit"].check_config(cfg)
    cfg = build_config(os.path.join(ROOT, "configs", "ugatit_light.yaml"),
                       {"model.img_size": 88})
    with pytest.raises(ConfigError) as err:
        MODELS["ugatit"].check_config(cfg)
    assert str(err.value) == (
        "model.img_size=88, model.n_dis_global=7: layer disGA.pad (ReflectionPad2D) would see "
        "1 px, which its reflection padding of 1 cannot take (it needs more than 1 px); nearest "
        "that work: -o model.img_size=96 or -o model.n_dis_global=6")


def test_self_attention_channels_are_the_layers_own_limit():
    cfg = build_config(overrides={"model.ch": 1, "model.self_attention": True})
    with pytest.raises(ConfigError, match=r"^model\.ch=1, model\.self_attention=True: building "
                                          r"genA2B fails: ValueError: SelfAttention needs at "
                                          r"least 8 channels .*got 4; nearest that work: "
                                          r"-o model\.ch=2$"):
        MODELS["ugatit"].check_config(cfg)


def test_the_walk_leaves_the_random_state_as_it_was():
    cfg = build_config(overrides={"model.ch": 4, "model.img_size": 88, "model.light": True})
    paddle.seed(7)
    expected = paddle.rand([4]).numpy()
    paddle.seed(7)
    with pytest.raises(ConfigError):
        MODELS["ugatit"].check_config(cfg)  # walks, and searches for the nearest settings
    np.testing.assert_array_equal(paddle.rand([4]).numpy(), expected)


@pytest.mark.slow
def test_refusal_comes_before_the_run_folder(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, "tools", "train.py"), "-c",
         os.path.join(ROOT, "configs", "demo.yaml"), "-o", "model.img_size=98",
         f"output_dir={out}", f"dataset.root={tmp_path / 'data'}"],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert "model.img_size=98: genA2B returns 100 px pictures for 98 px ones" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize("config, over", [
    # the issue's case: light U-GAT-IT at 96 px with the official depths 7 and 5
    ("demo.yaml", ["model.img_size=96", "model.n_dis_global=7", "model.n_dis_local=5"]),
    # the full model at the smallest size its depths take
    ("demo.yaml", ["model.light=false", "model.img_size=48", "model.n_dis_global=6",
                   "model.n_dis_local=3"]),
    # NICE-GAN at the smallest size its shallowest depth takes
    ("demo_nicegan.yaml", ["model.img_size=48", "model.n_dis=6"]),
])
@pytest.mark.slow
def test_boundary_settings_train(tmp_path, config, over):
    """Where the checker accepts, training runs (one iteration, with a checkpoint)."""
    out = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, "tools", "train.py"), "-c",
         os.path.join(ROOT, "configs", config), "-o", *over, "model.ch=2", "model.n_res=1",
         "train.iterations=1", "train.log_interval=1", "train.sample_interval=1",
         "train.save_interval=1", "train.eval_interval=0", "dataset.num_workers=0",
         f"output_dir={out}", f"dataset.root={tmp_path / 'data'}"],
        capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (out / "checkpoints").is_dir() and any((out / "checkpoints").iterdir())
