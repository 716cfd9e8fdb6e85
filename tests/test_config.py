"""Configs: YAML + -o overrides, checked keys and types, one-line errors."""
import os
import subprocess
import sys

import pytest
import yaml

from conftest import ROOT
from ppugatit.config import build_config, parse_overrides
from ppugatit.errors import ConfigError

CONFIGS = os.path.join(ROOT, "configs")


def test_overrides_split_on_the_first_equals_and_parse_yaml():
    over = parse_overrides(["dataset.root=data/a=b", "model.light=true", "optimizer.lr=2e-4",
                            "train.iterations=10", "output_dir=out dir"])
    assert over == {"dataset.root": "data/a=b", "model.light": True, "optimizer.lr": 2e-4,
                    "train.iterations": 10, "output_dir": "out dir"}


def test_yaml_then_overrides():
    cfg = build_config(os.path.join(CONFIGS, "ugatit.yaml"),
                       ["model.light=true", "dataset.root=data/selfie2anime", "model.ch=32"])
    assert cfg.model.light is True and cfg.model.ch == 32
    assert cfg.dataset.root == "data/selfie2anime"
    assert cfg.train.iterations == 1000000 and cfg.optimizer.lr == 1e-4  # from the file


@pytest.mark.parametrize("key, near", [("model.lihgt", "model.light"),
                                       ("train.iteration", "train.iterations"),
                                       ("loss.cycle_wieght", "loss.cycle_weight"),
                                       ("cam_weight", "loss.cam_weight")])
def test_unknown_key_names_the_nearest_valid_one(key, near):
    with pytest.raises(ConfigError, match=f"unknown key '{key}'; did you mean '{near}'"):
        build_config(os.path.join(CONFIGS, "demo.yaml"), [f"{key}=1"])


@pytest.mark.parametrize("item, key", [("model.ch=abc", "model.ch"),
                                       ("model.light=3", "model.light"),
                                       ("optimizer.lr=fast", "optimizer.lr"),
                                       ("train.iterations=1.5", "train.iterations")])
def test_wrong_types_are_refused(item, key):
    with pytest.raises(ConfigError, match=f"'{key}' must be"):
        build_config(os.path.join(CONFIGS, "demo.yaml"), [item])


def test_ints_are_accepted_for_floats():
    assert build_config(None, ["optimizer.lr=1"]).optimizer.lr == 1.0


def test_unknown_key_in_a_yaml_file_names_the_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("model:\n  name: ugatit\n  chanels: 3\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: unknown key 'model.chanels'; did you mean "
                                          r"'model.ch'"):
        build_config(str(path))


def test_broken_yaml_and_missing_file(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("model: [1, 2\n")
    with pytest.raises(ConfigError, match="broken.yaml: line .* not valid YAML"):
        build_config(str(path))
    with pytest.raises(ConfigError, match="not found"):
        build_config(str(tmp_path / "nope.yaml"))


def test_unknown_model_name():
    with pytest.raises(ConfigError, match="model.name 'ugatti' is unknown.*did you mean 'ugatit'"):
        build_config(None, ["model.name=ugatti"])


@pytest.mark.parametrize("name", sorted(os.listdir(CONFIGS)))
def test_shipped_configs_load(name):
    build_config(os.path.join(CONFIGS, name))


def test_paper_settings_in_ugatit_yaml():
    cfg = build_config(os.path.join(CONFIGS, "ugatit.yaml"))
    assert (cfg.model.light, cfg.model.ch, cfg.model.n_res, cfg.model.img_size) == (False, 64, 4, 256)
    assert (cfg.model.n_dis_global, cfg.model.n_dis_local) == (7, 5)
    assert cfg.train.iterations == 1000000 and cfg.train.batch_size == 1
    assert cfg.optimizer.decay_flag and cfg.optimizer.lr == 1e-4
    assert (cfg.loss.adv_weight, cfg.loss.cycle_weight, cfg.loss.identity_weight,
            cfg.loss.cam_weight) == (1, 10, 10, 1000)


def test_train_tool_prints_one_line_for_a_typo(tmp_path):
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "train.py"), "-c",
                           os.path.join(CONFIGS, "demo.yaml"), "-o", "model.lihgt=true",
                           f"output_dir={tmp_path}"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("error: -o: unknown key 'model.lihgt'; did you mean "
                                   "'model.light'?")


def test_final_config_is_saved(tmp_path):
    from ppugatit.config import save_config
    cfg = build_config(os.path.join(CONFIGS, "demo.yaml"), ["model.ch=6"])
    save_config(cfg, str(tmp_path / "config.yaml"))
    again = build_config(str(tmp_path / "config.yaml"))
    assert again == cfg
    assert yaml.safe_load((tmp_path / "config.yaml").read_text())["model"]["ch"] == 6


def test_output_dir_dot_in_a_file_is_the_files_folder(tmp_path):
    from ppugatit.config import save_config
    run = tmp_path / "runs" / "a"
    cfg = build_config(os.path.join(CONFIGS, "demo.yaml"), [f"output_dir={run}"])
    save_config(cfg, str(run / "config.yaml"))
    assert yaml.safe_load((run / "config.yaml").read_text())["output_dir"] == "."
    assert build_config(str(run / "config.yaml")).output_dir == str(run)
    assert build_config(None, ["output_dir=."]).output_dir == "."  # -o: the working directory
