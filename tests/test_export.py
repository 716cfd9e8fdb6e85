"""Static export and Paddle Inference: the exported generator gives the dygraph numbers (and so
the official ones), with a free batch size; deploy/python/infer.py writes what tools/infer.py
writes."""
import os
import re
import subprocess
import sys

import cv2
import numpy as np
import paddle
import pytest
import yaml

from conftest import FIXTURES, ROOT
from ppugatit.alignment import load_fixture
from ppugatit.data.image_io import read_image, write_image
from ppugatit.device import has_gpu
from ppugatit.errors import ConfigError
from ppugatit.export.commands import export_from_weights
from ppugatit.export.files import ExportError
from ppugatit.export.predictors import Predictor
from ppugatit.export.program import export_model
from ppugatit.inference import dygraph_runner, infer, load_model

PT = os.path.join(FIXTURES, "ugatit_light_official.pt")
DEPLOY = os.path.join(ROOT, "deploy", "python", "infer.py")
OVERRIDES = ["model.img_size=128"]


@pytest.fixture(scope="module")
def step():
    return load_fixture(os.path.join(FIXTURES, "ugatit_light_step.npz"))


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The official checkpoint's A2B generator, exported with its heatmap."""
    out = tmp_path_factory.mktemp("export") / "inference"
    line = export_from_weights(PT, str(out), overrides=OVERRIDES, with_heatmap=True)
    assert "checked with Paddle Inference" in line
    return out


@pytest.mark.slow
def test_export_writes_the_model_and_its_description(exported):
    assert sorted(os.listdir(exported)) == ["inference.json", "inference.pdiparams",
                                            "inference.yml"]
    meta = yaml.safe_load((exported / "inference.yml").read_text())
    digest = meta.pop("weights")  # which weights: a reduced form must match it (test_precision)
    assert re.fullmatch(r"[0-9a-f]{16}", digest)
    assert meta == {"model": "ugatit", "task": "translation", "onednn": True, "input": "image",
                    "direction": "A2B", "img_size": 128, "outputs": ["image", "heatmap"],
                    "pipeline": "ours"}


MKLDNN_RUN = """
import sys
import numpy as np
from ppugatit.export.predictors import Predictor
images, heatmap = Predictor({model!r}, "cpu", enable_mkldnn=True)(np.load({x!r}))
np.savez({out!r}, images=images, heatmap=heatmap)
"""


def predict_with_mkldnn(model_dir, x, tmp_path):
    """In a process of its own: a oneDNN predictor leaves Paddle's dygraph in a state where
    later static programs pick oneDNN kernels (Paddle 3.3.1), which would upset other tests."""
    np.save(tmp_path / "x.npy", x)
    code = MKLDNN_RUN.format(root=ROOT, model=str(model_dir), x=str(tmp_path / "x.npy"),
                             out=str(tmp_path / "out.npz"))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    with np.load(tmp_path / "out.npz") as out:
        return out["images"], out["heatmap"]


@pytest.mark.slow
@pytest.mark.parametrize("mkldnn", [False, True])
def test_paddle_inference_matches_dygraph_and_the_official_output(exported, step, mkldnn,
                                                                  tmp_path):
    real_A = step["input/real_A"]
    if mkldnn:
        images, heatmap = predict_with_mkldnn(exported, real_A, tmp_path)
    else:
        predictor = Predictor(str(exported), "cpu")
        images, heatmap = predictor(real_A)
    model = load_model(PT, overrides=OVERRIDES)
    ref_images, ref_heatmap = dygraph_runner(model.translator("A2B"))(real_A)
    assert np.abs(images - ref_images).max() <= 1e-4
    assert np.abs(heatmap - ref_heatmap).max() <= 1e-4 * max(1.0, np.abs(ref_heatmap).max())
    for name, ours in (("out", images), ("heatmap", heatmap)):
        ref = step[f"eval_forward/genA2B/{name}"]
        assert np.abs(ours - ref).max() <= 1e-4 * max(1.0, np.abs(ref).max()), name


@pytest.mark.slow
def test_the_batch_size_is_free(exported, step):
    predictor = Predictor(str(exported), "cpu")
    translator = dygraph_runner(load_model(PT, overrides=OVERRIDES).translator("A2B"))
    real_A = step["input/real_A"]
    for batch in (real_A[:1], np.concatenate([real_A, real_A[:1]])):
        got, _ = predictor(batch)
        want, _ = translator(batch)
        assert got.shape == want.shape and np.abs(got - want).max() <= 1e-4


@pytest.mark.slow
def test_deploy_script_writes_what_tools_infer_writes(exported, tmp_path):
    pictures = load_fixture(os.path.join(FIXTURES, "ugatit_light_infer.npz"))["input/images"]
    src = tmp_path / "in"
    for i, img in enumerate(pictures):
        write_image(str(src / "set" / f"p{i}.png"), img)
    (src / "set" / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    proc = subprocess.run([sys.executable, DEPLOY, "--model_dir", str(exported), "--input",
                           str(src), "--output", str(tmp_path / "deploy"), "--heatmap",
                           "--batch_size", "2", "--enable_mkldnn=False", "--cpu_threads", "2"],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert f"skipping unreadable image {src / 'set' / 'broken.jpg'}" in proc.stderr
    assert "translated (A2B) 2 image(s)" in proc.stdout
    infer(PT, str(tmp_path / "dygraph"), str(src), overrides=OVERRIDES, heatmap=True,
          device="cpu")
    # heatmaps are 8-bit indices into the JET colour map, blended at alpha 0.5: where 1e-6
    # moves an index by one, the colour moves by up to half of JET's largest step
    jet = cv2.applyColorMap(np.arange(256, dtype=np.uint8)[:, None], cv2.COLORMAP_JET)
    heat_tolerance = int(np.ceil(0.5 * np.abs(np.diff(jet[:, 0].astype(int), axis=0)).max())) + 1
    for name in ("p0.png", "p0_heatmap.png", "p1.png", "p1_heatmap.png"):
        a = read_image(str(tmp_path / "deploy" / "set" / name)).astype(int)
        b = read_image(str(tmp_path / "dygraph" / "set" / name)).astype(int)
        tolerance = heat_tolerance if "heatmap" in name else 1  # 1e-4 apart before rounding
        assert np.abs(a - b).max() <= tolerance, name
        assert np.mean(a != b) < 0.01, name  # and only at a few pixels


def test_spectral_norm_exports_in_eval_mode(step, tmp_path):
    """The discriminator's spectral norm branches on ``self.training``: traced in eval mode it
    uses the stored u, v (no power iteration), as the official eval forward does."""
    from paddle import inference

    model = load_model(PT, overrides=OVERRIDES)
    dis = model.disGA
    u_before = dis.gap_fc.weight_u.numpy().copy()
    spec = paddle.static.InputSpec([None, 3, 128, 128], "float32", name="image")
    paddle.jit.save(paddle.jit.to_static(dis, input_spec=[spec], full_graph=True),
                    str(tmp_path / "dis"))
    np.testing.assert_array_equal(dis.gap_fc.weight_u.numpy(), u_before)
    config = inference.Config(str(tmp_path / "dis.json"), str(tmp_path / "dis.pdiparams"))
    config.disable_gpu()
    config.disable_mkldnn()
    config.disable_glog_info()
    predictor = inference.create_predictor(config)
    handle = predictor.get_input_handle(predictor.get_input_names()[0])
    handle.reshape(list(step["input/real_A"].shape))
    handle.copy_from_cpu(step["input/real_A"])
    predictor.run()
    outs = [predictor.get_output_handle(n).copy_to_cpu() for n in predictor.get_output_names()]
    for name, ours in zip(("out", "cam_logit", "heatmap"), outs):
        ref = step[f"eval_forward/disGA/{name}"]
        assert np.abs(ours - ref).max() <= 1e-4 * max(1.0, np.abs(ref).max()), name


@pytest.mark.slow
def test_export_and_deploy_errors(tmp_path):
    with pytest.raises(ExportError, match=r"no inference.json/.pdmodel with inference.pdiparams"):
        Predictor(str(tmp_path))
    plain = tmp_path / "plain"
    model = load_model(PT, overrides=OVERRIDES)
    export_model(model, str(plain), direction="B2A")
    assert yaml.safe_load((plain / "inference.yml").read_text())["outputs"] == ["image"]
    images, heatmap = Predictor(str(plain))(np.zeros((1, 3, 128, 128), np.float32))
    assert images.shape == (1, 3, 128, 128) and heatmap is None
    write_image(str(tmp_path / "in" / "a.png"), np.zeros((8, 8, 3), np.uint8))
    proc = subprocess.run([sys.executable, DEPLOY, "--model_dir", str(plain), "--input",
                           str(tmp_path / "in"), "--output", str(tmp_path / "o"), "--heatmap"],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2
    assert "was exported without the heatmap; export again with --with-heatmap" in proc.stderr
    with pytest.raises(ExportError, match=r"--direction must be one of"):
        export_model(model, str(tmp_path / "x"), direction="A2A")
    (plain / "inference.yml").unlink()
    with pytest.raises(ExportError, match=r"inference.yml: not found; export with"):
        Predictor(str(plain))
    with pytest.raises(ConfigError, match=r"--device gpu: this Paddle has no GPU"):
        if has_gpu():
            pytest.skip("a GPU build of Paddle")
        infer(PT, str(tmp_path / "o"), str(tmp_path / "in"), device="gpu")
