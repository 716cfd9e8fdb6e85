"""ONNX export and ONNX Runtime: each translation model's exported generator gives the dygraph
numbers (and so the official ones) within 1e-4 with a free batch size; deploy/python/infer.py
runs the .onnx file and writes what tools/infer.py writes; the float16-storage weights file is
half the size and translates within one level of 255."""
import json
import os
import subprocess
import sys

import numpy as np
import onnx
import pytest

from conftest import FIXTURES, ROOT
from ppugatit.alignment import load_fixture
from ppugatit.attention import SelfAttention
from ppugatit.config import build_config
from ppugatit.data.image_io import read_image, write_image
from ppugatit.export import reduced
from ppugatit.export.commands import export_from_weights
from ppugatit.export.files import ExportError, RuntimeChoiceError
from ppugatit.export.predictors import OnnxPredictor, choose_runtime
from ppugatit.export.program import export_model
from ppugatit.inference import dygraph_runner, infer, load_model
from ppugatit.models.table import MODELS
from ppugatit.kernels.cpuinfo import cpu_features

DEPLOY = os.path.join(ROOT, "deploy", "python", "infer.py")
MODELS_UNDER_TEST = {
    # checkpoint, official outputs, direction, the official networks that give image, heatmap
    "ugatit": ("ugatit_light_official.pt", "ugatit_light_step.npz", "A2B", "genA2B", "genA2B"),
    "nicegan": ("nicegan_light_official.pt", "nicegan_light_step.npz", "A2B", "gen2B", "disA"),
}


def close(got: np.ndarray, ref: np.ndarray) -> bool:
    """Within 1e-4, relative for outputs larger than 1 (the heatmaps)."""
    return got.shape == ref.shape and np.abs(got - ref).max() <= 1e-4 * max(1.0, np.abs(ref).max())


@pytest.fixture(scope="module", params=sorted(MODELS_UNDER_TEST))
def exported(request, tmp_path_factory):
    """An official checkpoint's A2B translator as inference.onnx, with its heatmap."""
    name = request.param
    pt, step_file, direction, _, _ = MODELS_UNDER_TEST[name]
    step = load_fixture(os.path.join(FIXTURES, step_file))
    overrides = [f"model.img_size={int(step['config/img_size'])}"]
    out = tmp_path_factory.mktemp("onnx") / name
    line = export_from_weights(os.path.join(FIXTURES, pt), str(out), overrides=overrides,
                               direction=direction, with_heatmap=True, fmt="onnx")
    assert "checked with ONNX Runtime" in line
    model = load_model(os.path.join(FIXTURES, pt), overrides=overrides)
    return name, out / "inference.onnx", model, step


@pytest.mark.slow
def test_onnx_runtime_matches_dygraph_and_the_official_output(exported):
    name, path, model, step = exported
    _, _, direction, gen, cam = MODELS_UNDER_TEST[name]
    predictor = OnnxPredictor(str(path))
    assert predictor.meta["model"] == name and predictor.meta["outputs"] == ["image", "heatmap"]
    real_A = step["input/real_A"]
    images, heatmap = predictor(real_A)
    ref_images, ref_heatmap = dygraph_runner(model.translator(direction))(real_A)
    assert close(images, ref_images) and close(heatmap, ref_heatmap)
    assert close(images, step[f"eval_forward/{gen}/out"])
    assert close(heatmap, step[f"eval_forward/{cam}/heatmap"])


@pytest.mark.slow
def test_the_onnx_batch_is_free_and_named(exported):
    name, path, model, step = exported
    graph = onnx.load(str(path)).graph
    assert [i.name for i in graph.input] == ["real"]
    assert [o.name for o in graph.output] == ["image", "heatmap"]
    for value in list(graph.input) + list(graph.output):
        assert value.type.tensor_type.shape.dim[0].dim_param == "batch"
    predictor = OnnxPredictor(str(path), cpu_threads=1)
    translator = dygraph_runner(model.translator("A2B"))
    real_A = step["input/real_A"]
    for batch in (real_A[:1], np.concatenate([real_A, real_A[:1]])):
        got, _ = predictor(batch)
        want, _ = translator(batch)
        assert close(got, want)


@pytest.mark.slow
@pytest.mark.parametrize("overrides", [["model.self_attention=true"], ["model.light=false"]])
def test_other_ugatit_variants_export_within_1e_4(tmp_path, overrides):
    """The full model's MLP on the flattened map, and the self-attention block."""
    cfg = build_config(os.path.join(ROOT, "configs", "demo.yaml"),
                       ["model.ch=4", "model.n_res=1", "model.img_size=32", "model.n_dis_global=5",
                        "model.n_dis_local=3"] + overrides)
    model = MODELS[cfg.model.name](cfg)
    attention = [m for m in model.genA2B.sublayers() if isinstance(m, SelfAttention)]
    assert len(attention) == ("model.self_attention=true" in overrides)
    for layer in attention:
        layer.gamma.set_value(np.full([1], 0.5, np.float32))  # a fresh one is the identity
    meta = export_model(model, str(tmp_path), fmt="onnx")
    x = np.random.default_rng(0).uniform(-1, 1, (2, 3, 32, 32)).astype(np.float32)
    got, _ = OnnxPredictor(str(tmp_path / "inference.onnx"))(x)
    want, _ = dygraph_runner(model.translator("A2B"))(x)
    assert meta["outputs"] == ["image"] and close(got, want)


@pytest.mark.slow
def test_deploy_runs_the_onnx_file_as_tools_infer_does(exported, tmp_path):
    name, path, _, step = exported
    if name != "ugatit":
        pytest.skip("one model is enough for the picture handling")
    pictures = load_fixture(os.path.join(FIXTURES, "ugatit_light_infer.npz"))["input/images"]
    for i, img in enumerate(pictures):
        write_image(str(tmp_path / "in" / f"p{i}.png"), img)
    proc = subprocess.run([sys.executable, DEPLOY, "--model_dir", str(path), "--input",
                           str(tmp_path / "in"), "--output", str(tmp_path / "onnx"),
                           "--batch_size", "2"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "translated (A2B) 2 image(s)" in proc.stdout
    infer(os.path.join(FIXTURES, "ugatit_light_official.pt"), str(tmp_path / "dygraph"),
          str(tmp_path / "in"), overrides=["model.img_size=128"], device="cpu")
    for i in range(2):
        a = read_image(str(tmp_path / "onnx" / f"p{i}.png")).astype(int)
        b = read_image(str(tmp_path / "dygraph" / f"p{i}.png")).astype(int)
        assert np.abs(a - b).max() <= 1 and np.mean(a != b) < 0.01  # 1e-4 apart before rounding


@pytest.mark.slow
def test_the_runtime_is_chosen_by_what_the_folder_holds(exported, tmp_path):
    _, path, model, _ = exported
    folder = str(path.parent)
    assert choose_runtime(folder) == "onnxruntime" == choose_runtime(str(path))
    with pytest.raises(RuntimeChoiceError, match="has only an ONNX model"):
        choose_runtime(folder, "paddle")
    with pytest.raises(RuntimeChoiceError, match="no exported model there"):
        choose_runtime(str(tmp_path))
    export_model(model, str(tmp_path), fmt="paddle")
    assert choose_runtime(str(tmp_path)) == "paddle"
    with pytest.raises(RuntimeChoiceError, match="has no inference.onnx; export one"):
        choose_runtime(str(tmp_path), "onnxruntime")
    export_model(model, str(tmp_path), fmt="onnx")  # both forms: ONNX Runtime, the faster
    assert choose_runtime(str(tmp_path)) == "onnxruntime"
    assert choose_runtime(str(tmp_path), "paddle") == "paddle"
    # the thread count follows the usable cores, as coreutils' nproc counts them (nproc
    # obeys OMP_NUM_THREADS, which the tests set)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMP_")}
    assert cpu_features()["cores"] == int(subprocess.check_output(["nproc"], text=True, env=env))


def test_onnx_export_errors(tmp_path):
    cfg = build_config(os.path.join(ROOT, "configs", "demo_sagan.yaml"),
                       ["model.conv_dim=8", "model.z_dim=16"])
    with pytest.raises(ExportError, match="--format onnx: the sagan sampler"):
        export_model(MODELS["sagan"](cfg), str(tmp_path), fmt="onnx")
    plain = tmp_path / "plain.onnx"
    onnx.save(onnx.helper.make_model(onnx.helper.make_graph([], "g", [], [])), str(plain))
    with pytest.raises(RuntimeChoiceError, match="no ppugatit description in its metadata"):
        OnnxPredictor(str(plain))
    (tmp_path / "broken.onnx").write_bytes(b"not a model")
    with pytest.raises(RuntimeChoiceError, match="not a readable ONNX model"):
        OnnxPredictor(str(tmp_path / "broken.onnx"))


def test_half_weights_are_half_the_size_and_translate_within_one_level(tmp_path, monkeypatch):
    pt = os.path.join(FIXTURES, "ugatit_light_official.pt")
    line = export_from_weights(pt, str(tmp_path), overrides=["model.img_size=128"], fmt="fp16")
    half = tmp_path / "weights_fp16.pdparams"
    assert "float16 storage" in line and (tmp_path / "config.yaml").is_file()
    model = load_model(pt, overrides=["model.img_size=128"])
    from ppugatit import checkpoint
    checkpoint.save(model.weights(), str(tmp_path / "full.pdparams"))
    ratio = half.stat().st_size / (tmp_path / "full.pdparams").stat().st_size
    assert 0.45 < ratio < 0.55
    restored = load_model(str(half))  # config.yaml beside it; float16 loads into float32
    assert restored.genA2B.parameters()[0].dtype == model.genA2B.parameters()[0].dtype
    x = np.random.default_rng(1).uniform(-1, 1, (2, 3, 128, 128)).astype(np.float32)
    got, _ = dygraph_runner(restored.translator("A2B"))(x)
    want, _ = dygraph_runner(model.translator("A2B"))(x)
    assert 0 < np.abs(got - want).max() * 127.5 <= 1
    monkeypatch.setattr(reduced, "PIXEL", 1e-9)
    with pytest.raises(ExportError, match="share the float32 weights instead"):
        export_from_weights(pt, str(tmp_path / "strict"), overrides=["model.img_size=128"],
                            fmt="fp16")
    assert not (tmp_path / "strict" / "weights_fp16.pdparams").exists()


def test_the_metadata_is_json_in_the_file(exported):
    _, path, _, _ = exported
    props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    meta = json.loads(props["ppugatit"])
    assert meta["direction"] == "A2B" and meta["input"] == "image" and "onednn" not in meta
