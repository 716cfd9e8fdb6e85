import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
FIXTURES = os.path.join(ROOT, "tests", "fixtures")

import ppugatit  # noqa: E402,F401  (silences Paddle's import-time warning before paddle loads)


def tiny_overrides(tmp_path, **extra) -> dict:
    """A U-GAT-IT small enough to train a few iterations in seconds on 2 CPU cores."""
    over = {
        "output_dir": str(tmp_path / "out"),
        "model.light": True, "model.ch": 4, "model.n_res": 1, "model.img_size": 32,
        "model.n_dis_global": 5, "model.n_dis_local": 3,
        "dataset.root": str(tmp_path / "data"), "dataset.demo": True, "dataset.num_workers": 0,
        "train.iterations": 4, "train.log_interval": 2, "train.sample_interval": 2,
        "train.save_interval": 2, "train.sample_num": 2,
    }
    over.update(extra)
    return over


@pytest.fixture
def fixture_path():
    return lambda name: os.path.join(FIXTURES, name)
