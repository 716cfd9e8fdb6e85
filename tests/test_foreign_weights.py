"""The models people have: the authors' TensorFlow checkpoints and PaddleGAN's weights.

Fixtures made by the authors' own code (tests/fixtures/make_tf_fixtures.py runs taki0112/UGATIT
under TensorFlow; make_paddlegan_fixtures.py runs PaddleGAN's classes): checkpoints saved by
their savers with random weights, and their generators' outputs on real photos through their
test pipelines. Ours must give the same numbers and the same pixels.
"""
import glob
import os
import pickle
import shutil
import subprocess
import sys

import numpy as np
import paddle
import pytest

from ppugatit.data.image_io import read_image
from ppugatit.errors import CheckpointError, ConfigError
from ppugatit.pipelines import pipeline_for
from ppugatit.weights import loader, tf_checkpoint

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "tests", "fixtures")
PHOTOS = sorted(glob.glob(os.path.join(FIXTURES, "photos", "*.png")))
TF_DIR = os.path.join(FIXTURES, "tf")
TF = {"light": glob.glob(os.path.join(TF_DIR, "UGATIT_light_*"))[0],
      "full": glob.glob(os.path.join(TF_DIR, "UGATIT_selfie2anime_*"))[0]}
TF_OVER = {"light": ["model.img_size=128"], "full": []}  # a light model's size is not in it
PG = {"light": os.path.join(FIXTURES, "paddlegan", "light_checkpoint.pdparams"),
      "full": os.path.join(FIXTURES, "paddlegan", "full_weight.pdparams")}
PG_OVER = {"light": ["model.img_size=128"], "full": []}


def tool(name, *args):
    return subprocess.run([sys.executable, os.path.join(ROOT, "tools", name), *args],
                          capture_output=True, text=True, cwd=ROOT)


def assert_outputs_match(model, fixture, nhwc: bool):
    """Each photo through the weights' pipeline and both generators, against the fixture."""
    pipe = pipeline_for(model.cfg)
    size = model.cfg.model.img_size
    for i, photo in enumerate(PHOTOS):
        x = pipe.prepare(read_image(photo), size)
        ref_in = fixture[f"A2B/{i}/input"]
        ref_x = ref_in[0].transpose(2, 0, 1) if nhwc else ref_in
        # cv2's uint8 bicubic rounds in SIMD paths that differ by one level between builds
        # and CPUs: the input is held to one level on a few values, the networks to the
        # fixture's own input
        level = np.abs(x - ref_x) * 127.5
        assert level.max() <= 1 + 1e-3 and (level > 1e-3).mean() < 1e-3, (photo, level.max())
        x = ref_x.astype(np.float32)
        for d, gen in (("A2B", model.genA2B), ("B2A", model.genB2A)):
            with paddle.no_grad():
                out, cam, heat = (t.numpy() for t in gen(paddle.to_tensor(x[None])))
            ref_out = fixture[f"{d}/{i}/out"]
            np.testing.assert_allclose(out, ref_out.transpose(0, 3, 1, 2) if nhwc else ref_out,
                                       atol=2e-4, err_msg=f"{d} {photo}")
            np.testing.assert_allclose(cam, fixture[f"{d}/{i}/cam_logit"], rtol=1e-4,
                                       atol=1e-4, err_msg=f"{d} cam_logit {photo}")
            ref_heat = fixture[f"{d}/{i}/heatmap"]
            np.testing.assert_allclose(heat.squeeze(), ref_heat.squeeze(),
                                       atol=1e-4 * np.abs(ref_heat).max(),
                                       err_msg=f"{d} heatmap {photo}")
            png = pipe.to_uint8(out)[0].astype(int)
            assert np.abs(png - fixture[f"{d}/{i}/png"]).max() <= 2, f"{d} pixels {photo}"


@pytest.mark.parametrize("kind", ["light", "full"])
def test_tensorflow_checkpoints_give_the_authors_outputs(kind):
    model = loader.open_weights(TF[kind], overrides=TF_OVER[kind])
    fixture = np.load(os.path.join(FIXTURES, f"tf_{kind}.npz"))
    m = model.cfg.model
    assert (model.weights_format, m.variant, m.light, m.ch, m.smoothing, m.img_size) == (
        "tensorflow", "tensorflow", kind == "light", int(fixture["config/ch"]), True, 128)
    assert_outputs_match(model, fixture, nhwc=True)


@pytest.mark.parametrize("kind", ["light", "full"])
def test_paddlegan_files_give_paddlegans_outputs(kind):
    model = loader.open_weights(PG[kind], overrides=PG_OVER[kind])
    fixture = np.load(os.path.join(FIXTURES, f"paddlegan_{kind}.npz"))
    m = model.cfg.model
    assert (model.weights_format, m.variant, m.light, m.ch, m.n_dis_global) == (
        "paddlegan", "paddlegan", kind == "light", int(fixture["config/ngf"]),
        int(fixture["config/n_global"]))
    assert_outputs_match(model, fixture, nhwc=False)


def assert_pictures(folder, fixture, direction="A2B"):
    for i, photo in enumerate(PHOTOS):
        got = read_image(os.path.join(folder, os.path.basename(photo)))
        assert got is not None, f"{photo} was not written"
        assert np.abs(got.astype(int) - fixture[f"{direction}/{i}/png"]).max() <= 2, photo


@pytest.mark.parametrize("weights,over,fixture", [
    (TF["light"], TF_OVER["light"], "tf_light.npz"),
    (PG["full"], [], "paddlegan_full.npz"),
])
@pytest.mark.slow
def test_infer_tool_writes_the_authors_pictures(tmp_path, weights, over, fixture):
    args = ["--weights", weights, "--input", os.path.join(FIXTURES, "photos"),
            "--output", str(tmp_path / "out"), "--direction", "B2A"]
    proc = tool("infer.py", *args, *(["-o", *over] if over else []))
    assert proc.returncode == 0, proc.stderr
    assert_pictures(tmp_path / "out", np.load(os.path.join(FIXTURES, fixture)), "B2A")


def test_a_tensorflow_checkpoint_is_named_every_way_the_issue_lists():
    folder = TF["full"]
    prefix = tf_checkpoint.resolve_prefix(folder)
    assert prefix.endswith("UGATIT.model-5")
    for name in (prefix, prefix + ".index", prefix + ".data-00000-of-00001"):
        assert tf_checkpoint.resolve_prefix(name) == prefix
    with pytest.raises(CheckpointError, match=r"holds 3 checkpoint folders"):
        tf_checkpoint.resolve_prefix(TF_DIR)  # the folder above, but three are in it
    for name in (folder, prefix, prefix + ".index"):
        assert loader.detect(name) == "tensorflow"


def test_the_folder_above_and_a_checkpoint_file_from_another_machine(tmp_path):
    above = tmp_path / "checkpoint"
    shutil.copytree(TF["full"], above / os.path.basename(TF["full"]))
    inner = above / os.path.basename(TF["full"])
    (inner / "checkpoint").write_text(
        'model_checkpoint_path: "/home/someone/UGATIT/checkpoint/x/UGATIT.model-5"\n')
    a = loader.open_weights(str(above))
    b = loader.open_weights(TF["full"])
    np.testing.assert_array_equal(a.genA2B.FC[0].weight.numpy(), b.genA2B.FC[0].weight.numpy())


def test_the_reader_skips_optimizer_state_and_reads_the_index_by_hand():
    prefix = tf_checkpoint.resolve_prefix(TF["light"])
    index = tf_checkpoint.read_index(prefix + ".index")
    assert any("/Adam" in k for k in index) and "beta1_power" in index
    variables = tf_checkpoint.read_variables(prefix)
    assert not any("/Adam" in k or "power" in k for k in variables)
    assert variables["generator_B/conv/conv2d/kernel"].shape == (7, 7, 3, 8)
    assert isinstance(variables["generator_B/conv/conv2d/kernel"].base, np.memmap) or \
        isinstance(variables["generator_B/conv/conv2d/kernel"], np.memmap)


@pytest.mark.parametrize("name", ["zip_format.pt", "legacy_format.pt", "ugatit_light_official.pt"])
def test_torch_files_are_told_by_content_not_extension(tmp_path, name):
    renamed = tmp_path / "weights.bin"
    shutil.copy(os.path.join(FIXTURES, name), renamed)
    assert loader.detect(str(renamed)) == "pytorch"
    renamed_pg = tmp_path / "ugatit.pt"
    shutil.copy(PG["full"], renamed_pg)
    assert loader.read(str(renamed_pg))[0] == "paddlegan"


def bad_tf_copies(tmp_path):
    """(what to pass, the error it must give) for the damaged TensorFlow checkpoints."""
    cases = []
    cut = tmp_path / "truncated"
    shutil.copytree(TF["light"], cut)
    data = glob.glob(str(cut / "*.data-*"))[0]
    with open(data, "r+b") as f:
        f.truncate(os.path.getsize(data) // 2)
    cases.append((str(cut), r"cut short or damaged"))
    no_index = tmp_path / "no_index"
    shutil.copytree(TF["light"], no_index)
    os.remove(glob.glob(str(no_index / "*.index"))[0])
    cases.append((str(no_index), r"\.index is not in"))
    cases.append((glob.glob(str(no_index / "*.data-*"))[0], r"\.index: missing"))
    empty = tmp_path / "no_checkpoint_file"
    empty.mkdir()
    (empty / "notes.txt").write_text("x")
    cases.append((str(empty), r"a folder without a TensorFlow 'checkpoint' file"))
    cases.append((os.path.join(TF_DIR, "other_network"), r"a TensorFlow checkpoint of another "
                                                          r"network"))
    return cases


def bad_files(tmp_path):
    cases = bad_tf_copies(tmp_path)
    cases.append((os.path.join(FIXTURES, "paddlegan", "photo2cartoon.pdparams"),
                  r"a PaddleGAN photo2cartoon .* not U-GAT-IT"))
    cases.append((os.path.join(FIXTURES, "paddlegan", "cyclegan.pdparams"),
                  r"a PaddleGAN CycleGAN .* not U-GAT-IT"))
    evil = tmp_path / "evil.pdparams"

    class Payload:
        def __reduce__(self):
            return (os.system, ("touch " + str(tmp_path / "pwned"),))
    evil.write_bytes(pickle.dumps({"genA2B": Payload()}, protocol=4))
    cases.append((str(evil), r"refused: it asks for '(posix|os)\.system'"))
    cut_pg = tmp_path / "cut.pdparams"
    cut_pg.write_bytes(open(PG["full"], "rb").read()[:5000])
    cases.append((str(cut_pg), r"is it truncated\?"))
    return cases


@pytest.mark.slow
def test_every_bad_file_gets_one_line_and_exit_code_2(tmp_path):
    photo = PHOTOS[0]
    for k, (weights, message) in enumerate(bad_files(tmp_path)):
        out = tmp_path / f"out{k}"
        proc = tool("infer.py", "--weights", weights, "--input", photo, "--output", str(out))
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2, (weights, proc.stderr[-2000:])
        assert len(lines) == 1 and lines[0].startswith("error: "), (weights, proc.stderr)
        assert __import__("re").search(message, lines[0]), (weights, lines[0])
        assert not out.exists(), weights
    assert not (tmp_path / "pwned").exists()


@pytest.mark.slow
def test_round_trip_through_our_weights_gives_the_same_pixels(tmp_path):
    dst = tmp_path / "converted" / "weights.pdparams"
    proc = tool("convert_weights.py", "--src", TF["light"], "--dst", str(dst),
                "-o", *TF_OVER["light"])
    assert proc.returncode == 0, proc.stderr
    assert "tensorflow weights, 2 networks" in proc.stdout
    assert loader.detect(str(dst)) == "paddle"
    proc = tool("infer.py", "--weights", str(dst), "--input", os.path.join(FIXTURES, "photos"),
                "--output", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    assert_pictures(tmp_path / "out", np.load(os.path.join(FIXTURES, "tf_light.npz")))
    pg_dst = tmp_path / "pg" / "weights.pdparams"
    assert tool("convert_weights.py", "--src", PG["full"], "--dst", str(pg_dst)).returncode == 0
    model = loader.open_weights(str(pg_dst))
    assert model.cfg.model.variant == "paddlegan" and model.weights_format == "ours"
    assert_outputs_match(model, np.load(os.path.join(FIXTURES, "paddlegan_full.npz")), False)


@pytest.mark.slow
def test_a_tensorflow_model_exports_to_onnx_with_the_same_pixels(tmp_path):
    from ppugatit.export.commands import export_from_weights, infer_exported
    export_from_weights(TF["full"], str(tmp_path / "onnx"), fmt="onnx")
    infer_exported(str(tmp_path / "onnx"), str(tmp_path / "out"),
                   os.path.join(FIXTURES, "photos"), runtime="onnxruntime")
    assert_pictures(tmp_path / "out", np.load(os.path.join(FIXTURES, "tf_full.npz")))


def test_the_app_engine_runs_a_tensorflow_folder():
    from ppugatit.app.engine import Engine
    engine = Engine(TF["full"], device="cpu")
    fixture = np.load(os.path.join(FIXTURES, "tf_full.npz"))
    fake, heat = engine.translate(read_image(PHOTOS[1]), "A2B")
    assert np.abs(fake.astype(int) - fixture["A2B/1/png"]).max() <= 2
    assert heat is not None


def test_training_from_a_tensorflow_checkpoint_is_refused_before_any_folder(tmp_path):
    from conftest import tiny_overrides
    from ppugatit.config import build_config
    from ppugatit.engine.trainer import Trainer
    over = tiny_overrides(tmp_path, **{"model.variant": "tensorflow", "model.n_res": 4})
    with pytest.raises(ConfigError, match=r"model.variant=tensorflow .* does not train"):
        Trainer(build_config(None, over))
    over = tiny_overrides(tmp_path, **{"train.init_weights": TF["light"]})
    with pytest.raises(ConfigError, match=r"TensorFlow checkpoints run for inference only"):
        Trainer(build_config(None, over))
    assert not (tmp_path / "out").exists()


def test_fine_tuning_starts_from_paddlegan_weights(tmp_path):
    from conftest import tiny_overrides
    from ppugatit.config import build_config
    from ppugatit.engine.trainer import Trainer
    from ppugatit.weights import paddle_pickle
    sizes = {"model.light": False, "model.ch": 4, "model.n_res": 4, "model.img_size": 64,
             "model.n_dis_global": 6, "model.n_dis_local": 5}
    over = tiny_overrides(tmp_path, **sizes, **{"train.init_weights": PG["full"]})
    with pytest.raises(ConfigError, match=r"set -o model.variant=paddlegan"):
        Trainer(build_config(None, over))
    over["model.variant"] = "paddlegan"
    trainer = Trainer(build_config(None, over))
    assert trainer.iteration == 0
    state = paddle_pickle.load(PG["full"])
    np.testing.assert_array_equal(trainer.model.disGA.conv1x1.weight.numpy(),
                                  state["disGA"]["conv1x1.weight"])
    np.testing.assert_array_equal(trainer.model.genB2A.DownBlock[2].weight.numpy(),
                                  state["genB2A"]["DownBlock.2.scale"])
    assert trainer.model.genB2A.DownBlock[2].weight.stop_gradient  # frozen, as in PaddleGAN
    over["model.ch"] = 8
    over["output_dir"] = str(tmp_path / "other")
    with pytest.raises(ConfigError, match=r"has model.ch=4, this config 8"):
        Trainer(build_config(None, over))



@pytest.mark.slow
def test_eval_scores_a_tensorflow_model_through_the_authors_pipeline(tmp_path):
    from ppugatit.engine.evaluator import Evaluator
    for domain in ("testA", "testB"):
        (tmp_path / domain).mkdir()
        for photo in PHOTOS:
            shutil.copy(photo, tmp_path / domain)
    over = [f"dataset.root={tmp_path}", "dataset.paired_test=true"]
    model = loader.open_weights(TF["full"], overrides=over)
    evaluator = Evaluator(model, str(tmp_path), None, paired=True)
    scores = evaluator(model)
    fixture = np.load(os.path.join(FIXTURES, "tf_full.npz"))
    for d in ("A2B", "B2A"):
        assert 0 < scores[f"l1_{d}"] < 255  # on 0..255: random weights, far from the truth
        for i in range(len(PHOTOS)):
            assert np.abs(evaluator.last_outputs[d][i].astype(int)
                          - fixture[f"{d}/{i}/png"]).max() <= 2
    proc = tool("eval.py", "--weights", TF["full"], "-o", *over)
    assert proc.returncode == 0, proc.stderr
    assert f"A2B: L1 {scores['l1_A2B']:.4f}" in proc.stdout
