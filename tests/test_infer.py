"""tools/infer.py: official weights give the official pictures; folders, globs, bad files."""
import os
import subprocess
import sys

import numpy as np
import paddle
import pytest

from conftest import FIXTURES, ROOT, tiny_overrides
from ppugatit import checkpoint
from ppugatit.alignment import load_fixture
from ppugatit.config import build_config, save_config
from ppugatit.data.dataset import eval_transform
from ppugatit.data.image_io import read_image, write_image
from ppugatit.device import Runtime
from ppugatit.errors import UserError
from ppugatit.inference import (InferenceError, collect_inputs, infer, load_model,
                                output_path, sample_files)
from ppugatit.models.ugatit.model import UGATIT
from ppugatit.visual import to_uint8

TOOL = os.path.join(ROOT, "tools", "infer.py")
PT = os.path.join(FIXTURES, "ugatit_light_official.pt")
SIZE = 128
IMAGE_PANELS, HEATMAP_PANELS = (0, 2, 4, 6), (1, 3, 5)


def run_tool(*args):
    return subprocess.run([sys.executable, TOOL, *args], capture_output=True, text=True, cwd=ROOT)


@pytest.fixture(scope="module")
def official():
    return load_fixture(os.path.join(FIXTURES, "ugatit_light_infer.npz"))


def write_inputs(folder, official):
    for i, img in enumerate(official["input/images"]):
        write_image(str(folder / f"img{i}.png"), img)


def panels(grid):
    return [grid[k * SIZE:(k + 1) * SIZE].astype(int) for k in range(7)]


def assert_official_grid(ours, ref):
    """Images within 2 of 255 per pixel. A heatmap is cut to uint8 before the JET colour map,
    where one level is up to ~5 in a colour channel: a value on a level boundary (float32
    rounding decides) moves a few pixels by that much, so: 99.5% within 2, all within 8."""
    ours, ref = panels(ours), panels(ref)
    for k in IMAGE_PANELS:
        assert np.abs(ours[k] - ref[k]).max() <= 2, f"panel {k}"
    for k in HEATMAP_PANELS:
        diff = np.abs(ours[k] - ref[k])
        assert (diff <= 2).mean() >= 0.995 and diff.max() <= 8, f"panel {k}"


@pytest.mark.slow
def test_official_weights_give_the_official_pictures(tmp_path, official):
    """The official test() on the same PNGs with the same .pt (tests/fixtures/
    make_ugatit_infer_fixture.py): translations and the seven-panel columns."""
    write_inputs(tmp_path / "in", official)
    out = tmp_path / "out"
    proc = run_tool("--weights", PT, "-o", "model.img_size=128", "--input", str(tmp_path / "in"),
                    "--output", str(out), "--grid", "--batch-size", "2", "--device", "cpu")
    assert proc.returncode == 0, proc.stderr
    assert "translated (A2B) 2 image(s)" in proc.stdout
    assert "images 2/2" in proc.stderr
    for i in range(2):
        ref = official["official/A2B_grid"][i]
        translation = read_image(str(out / f"img{i}.png")).astype(int)
        assert np.abs(translation - ref[4 * SIZE:5 * SIZE]).max() <= 2
        assert_official_grid(read_image(str(out / f"img{i}_grid.png")), ref)

    infer(PT, str(tmp_path / "b2a"), str(tmp_path / "in"), overrides=["model.img_size=128"],
          direction="B2A", grid=True, device="cpu")
    for i in range(2):
        assert_official_grid(read_image(str(tmp_path / "b2a" / f"img{i}_grid.png")),
                             official["official/B2A_grid"][i])


def test_the_tool_computes_exactly_what_the_network_gives(tmp_path, official):
    """The file is the network's output on the decoded, normalised picture, converted once
    (computed under the runtime the tool enters: its kernels round differently)."""
    write_inputs(tmp_path, official)
    infer(PT, str(tmp_path / "out"), str(tmp_path / "img1.png"),
          overrides=["model.img_size=128"], device="cpu")
    with Runtime("cpu"):
        model = load_model(PT, overrides=["model.img_size=128"])
        x = eval_transform(read_image(str(tmp_path / "img1.png")), SIZE)[None]
        with paddle.no_grad():
            expected = to_uint8(model.genA2B(paddle.to_tensor(x))[0])[0]
    np.testing.assert_array_equal(read_image(str(tmp_path / "out" / "img1.png")), expected)


@pytest.fixture
def tiny_run(tmp_path):
    """A tiny model's weights.pdparams with the config.yaml a training run writes beside it."""
    cfg = build_config(os.path.join(ROOT, "configs", "demo.yaml"), tiny_overrides(tmp_path))
    model = UGATIT(cfg)
    run = tmp_path / "run"
    checkpoint.save(model.weights(), str(run / "weights.pdparams"))
    save_config(cfg, str(run / "config.yaml"))
    return model, run


def picture(seed, h, w):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.mark.slow
def test_a_folder_with_a_corrupt_file(tmp_path, tiny_run):
    model, run = tiny_run
    src = tmp_path / "photos"
    write_image(str(src / "a.png"), picture(0, 40, 50))
    write_image(str(src / "trip" / "b.jpg"), picture(1, 33, 21))
    write_image(str(src / "trip" / "c.bmp"), picture(2, 32, 32))
    (src / "trip" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (src / "notes.txt").write_text("not a picture: ignored")
    out = tmp_path / "out"
    proc = run_tool("--weights", str(run / "weights.pdparams"), "--input", str(src),
                    "--output", str(out), "--keep-size", "--heatmap", "--batch-size", "2")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("broken.png") == 1
    assert f"skipping unreadable image {src / 'trip' / 'broken.png'}" in proc.stderr
    assert "images 4/4" in proc.stderr
    assert "translated (A2B) 3 image(s)" in proc.stdout and "(1 skipped)" in proc.stdout
    written = sorted(os.path.relpath(os.path.join(d, f), out) for d, _, fs in os.walk(out)
                     for f in fs)
    assert written == ["a.png", "a_heatmap.png", "trip/b.jpg", "trip/b_heatmap.jpg",
                       "trip/c.bmp", "trip/c_heatmap.bmp"]
    assert read_image(str(out / "a.png")).shape == (40, 50, 3)  # --keep-size
    assert read_image(str(out / "trip" / "b_heatmap.jpg")).shape == (33, 21, 3)


@pytest.mark.slow
def test_nothing_translated_is_an_error_naming_the_files(tmp_path, tiny_run):
    _, run = tiny_run
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.png").write_bytes(b"")
    proc = run_tool("--weights", str(run / "weights.pdparams"), "--input",
                    str(tmp_path / "bad"), "--output", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert f"skipping unreadable image {tmp_path / 'bad' / 'x.png'}" in proc.stderr
    assert "error: nothing was translated: all 1 input file(s) failed" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_inputs_image_folder_glob(tmp_path):
    for name in ("a/x.png", "a/b/y.jpg", "a/b/z.txt", "a/.hidden/w.png"):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    a = tmp_path / "a"
    assert collect_inputs(str(a / "x.png")) == [(str(a / "x.png"), "x.png")]
    assert collect_inputs(str(a)) == [(str(a / "x.png"), "x.png"),
                                      (str(a / "b" / "y.jpg"), "b/y.jpg")]
    assert collect_inputs(str(a / "**" / "*.*")) == [(str(a / "b" / "y.jpg"), "b/y.jpg"),
                                                     (str(a / "x.png"), "x.png")]
    assert collect_inputs(str(a / "b" / "*")) == [(str(a / "b" / "y.jpg"), "y.jpg")]
    with pytest.raises(InferenceError, match=r"no such file or folder"):
        collect_inputs(str(tmp_path / "nope"))
    with pytest.raises(InferenceError, match=r"matches no image files"):
        collect_inputs(str(a / "*.gif"))
    assert output_path("out", "b/y.jpg", "_grid") == os.path.join("out", "b/y_grid.jpg")
    assert output_path("out", "scan.exr") == os.path.join("out", "scan.exr.png")


@pytest.mark.slow
def test_user_errors(tmp_path, tiny_run):
    model, run = tiny_run
    weights = str(run / "weights.pdparams")
    write_image(str(tmp_path / "in" / "a.png"), picture(0, 32, 32))
    with pytest.raises(InferenceError, match=r"would overwrite the input"):
        infer(weights, str(tmp_path / "in"), str(tmp_path / "in"))
    lonely = tmp_path / "lonely.pdparams"
    checkpoint.save(model.weights(), str(lonely))
    with pytest.raises(UserError, match=r"no config.yaml beside it; pass -c CONFIG"):
        infer(str(lonely), str(tmp_path / "out"), str(tmp_path / "in"))
    with pytest.raises(InferenceError, match=r"--direction must be one of \['A2B', 'B2A'\]"):
        infer(weights, str(tmp_path / "out"), str(tmp_path / "in"), direction="A2C")
    with pytest.raises(InferenceError, match=r"--weights .*missing.pdparams: file not found"):
        infer(str(tmp_path / "missing.pdparams"), str(tmp_path / "out"), str(tmp_path / "in"))
    proc = run_tool("--weights", weights, "--input", str(tmp_path / "in"), "--output",
                    str(tmp_path / "out"), "-o", "model.ch=8")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "has shape" in proc.stderr and "set model.light/ch/n_res/img_size" in proc.stderr


def test_a_training_checkpoint_works_as_weights(tmp_path, tiny_run):
    model, run = tiny_run
    ckpt = run / "checkpoints" / "latest.pdckpt"
    checkpoint.save({"iteration": 4, "model": model.state_dict()}, str(ckpt))
    write_image(str(tmp_path / "in" / "a.png"), picture(0, 32, 32))
    infer(str(ckpt), str(tmp_path / "a"), str(tmp_path / "in"), device="cpu")
    infer(str(run / "weights.pdparams"), str(tmp_path / "b"), str(tmp_path / "in"),
          device="cpu")
    np.testing.assert_array_equal(read_image(str(tmp_path / "a" / "a.png")),
                                  read_image(str(tmp_path / "b" / "a.png")))


def test_sampling_writes_num_pictures_reproducibly(tmp_path):
    """The generation mode's loop, with a fixed linear map standing in for a sampler."""
    w = np.random.default_rng(1).standard_normal((8, 3 * 4 * 4)).astype(np.float32)
    seen = []

    def run(z):
        seen.append(z)
        return np.tanh(z @ w).reshape(-1, 3, 4, 4)
    summary = sample_files(run, 8, str(tmp_path / "a"), num=5, seed=3, batch_size=2)
    assert summary.done == 5 and [len(z) for z in seen] == [2, 2, 1]
    z = np.random.default_rng(3).standard_normal((5, 8), dtype=np.float32)
    np.testing.assert_array_equal(np.concatenate(seen), z)
    for i in range(5):
        np.testing.assert_array_equal(read_image(str(tmp_path / "a" / f"sample_{i:05d}.png")),
                                      to_uint8(np.tanh(z[i:i + 1] @ w).reshape(1, 3, 4, 4))[0])
