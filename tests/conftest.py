import os
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "tests", "fixtures")
RESEARCH = os.path.join(ROOT, "research")  # the benchmarks' and quality bench's modules

sys.path.insert(0, RESEARCH)
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


def train_until_interrupted(trainer, iteration: int) -> None:
    """Train, and after ``iteration`` do what Ctrl-C does; the trainer saves and stops."""
    step = trainer.model.train_step

    def stop_after(batch):
        losses = step(batch)
        if trainer.iteration == iteration:
            trainer.request_stop()
        return losses
    trainer.model.train_step = stop_after
    with pytest.raises(KeyboardInterrupt):
        trainer.train()


def perturbed(tmp_path, fixture: dict, key: str, delta: float = 1e-3) -> str:
    """A copy of ``fixture`` with the first element of ``key`` moved by ``delta``, as a file."""
    changed = dict(fixture)
    changed[key] = fixture[key].copy()
    changed[key].flat[0] += delta
    path = tmp_path / "perturbed.npz"
    np.savez(path, **changed)
    return str(path)


def assert_same_weights(a: dict, b: dict) -> None:
    """Two weights files' networks equal bit for bit (buffers such as u, v included)."""
    assert a.keys() == b.keys()
    for net in a:
        for k in a[net]:
            np.testing.assert_array_equal(a[net][k].numpy(), b[net][k].numpy(),
                                          err_msg=f"{net}.{k}")


@pytest.fixture
def fixture_path():
    return lambda name: os.path.join(FIXTURES, name)
