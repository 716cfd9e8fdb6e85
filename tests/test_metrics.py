"""KID and FID against NICE-GAN's metric code, the FID Inception against pytorch-fid's, eval.py."""
import json
import os
import subprocess
import sys

import numpy as np
import paddle
import pytest

from conftest import FIXTURES, ROOT
from ppugatit.weights import torch_pickle
from ppugatit.data.image_io import list_images, read_image, write_image
from ppugatit.errors import CheckpointError, DataError
from ppugatit.metrics import features as features_mod
from ppugatit.metrics.features import cache_key, default_cache_path, features, folder_features
from ppugatit.metrics.fid_kid import fid, frechet_distance, gaussian, kid, kid_subsets
from ppugatit.metrics import FID_WEIGHTS_URL
from ppugatit.metrics.inception import FIDInceptionV3, fid_weights_to_paddle, load_inception
from ppugatit.metrics.random_weights import seeded_state_dict

TOOL = os.path.join(ROOT, "tools", "eval.py")


@pytest.fixture(scope="module")
def reference():
    with np.load(os.path.join(FIXTURES, "kid_fid_reference.npz")) as data:
        return {k: data[k] for k in data.files}


@pytest.fixture(scope="module")
def inception_fixture():
    with np.load(os.path.join(FIXTURES, "inception_fid_features.npz")) as data:
        return {k: data[k] for k in data.files}


@pytest.fixture(scope="module")
def torch_state(inception_fixture):
    """The weights pytorch-fid ran with: every tensor of the real file's state dict, fc and
    num_batches_tracked included, regenerated from the fixture's seed, names and shapes."""
    shapes = json.loads(str(inception_fixture["weights/shapes"]))
    return seeded_state_dict(shapes, int(inception_fixture["config/seed"]))


@pytest.fixture(scope="module")
def seeded_model(torch_state):
    net = FIDInceptionV3()
    weights = fid_weights_to_paddle(net, torch_state, "seeded")
    net.set_state_dict({k: paddle.to_tensor(v) for k, v in weights.items()})
    return net


@pytest.mark.parametrize("method", ["auto", "covariance", "features"])
def test_fid_matches_nicegan(reference, method):
    ours = fid(reference["features/fake"], reference["features/real"], method)
    assert abs(ours - reference["fid"]) <= 1e-10 * reference["fid"]  # measured: 7e-15


def test_frechet_distance_of_the_gaussians_matches_nicegan(reference):
    ours = frechet_distance(*gaussian(reference["features/fake"]),
                            *gaussian(reference["features/real"]))
    assert abs(ours - reference["fid"]) <= 1e-10 * reference["fid"]  # measured: 7e-15


def test_kid_matches_nicegan_on_its_subsets(reference):
    mmd2 = kid_subsets(reference["features/fake"], reference["features/real"],
                       reference["kid/subset_index_fake"], reference["kid/subset_index_real"])
    np.testing.assert_allclose(mmd2, reference["kid/subset_mmd2"], rtol=0, atol=1e-9)
    assert abs(mmd2.mean() - reference["kid/mean"]) <= 1e-9
    assert abs(mmd2.std() - reference["kid/std"]) <= 1e-9  # NICE-GAN's np.std: ddof 0


def test_fid_of_a_set_with_itself_is_zero_when_covariances_are_singular():
    feats = np.random.default_rng(0).normal(size=(40, 2048)) * 3 + 1
    assert abs(fid(feats, feats)) < 1e-8
    assert fid(feats, feats + 0.5) == pytest.approx(2048 * 0.25, rel=1e-9)


def test_kid_subsets_are_drawn_without_replacement_and_capped():
    rng = np.random.default_rng(1)
    fake, real = rng.normal(size=(30, 8)), rng.normal(size=(20, 8))
    result = kid(fake, real, n_subsets=5, subset_size=1000, seed=3)
    assert result.subset_size == 20 and result.subsets.shape == (5,)
    assert result.std > 0  # the 20 fakes differ from subset to subset
    same_size = kid(fake[:20], real, n_subsets=5, subset_size=1000)
    # every subset is then the whole of both sets, as with NICE-GAN's code on equal test sets
    assert np.ptp(same_size.subsets) < 1e-12
    with pytest.raises(DataError, match="at least 2"):
        kid(fake[:1], real)


@pytest.mark.slow
def test_inception_matches_pytorch_fid(inception_fixture, seeded_model):
    """Features of pytorch-fid's FID Inception, run on the same seed-derived weights."""
    for name in ("square", "oblong", "large"):
        x = inception_fixture[f"input/{name}"]
        images = list(np.rint((x.transpose(0, 2, 3, 1) + 1) * 127.5).astype(np.uint8))
        ours = features(images, seeded_model, batch_size=2, progress=False)
        ref = inception_fixture[f"features/{name}"]
        assert ours.shape == ref.shape == (len(x), 2048)
        assert np.abs(ours - ref).max() <= 1e-4 * np.abs(ref).max(), name


def test_a_torch_written_weights_file_is_read_and_mapped(torch_state, tmp_path):
    """inception_subset.pth: real key names, written by torch.save (legacy format)."""
    path = os.path.join(FIXTURES, "inception_subset.pth")
    subset = torch_pickle.load(path)
    assert "fc.bias" in subset
    for name, value in subset.items():
        np.testing.assert_array_equal(value, torch_state[name])
    assert subset["Conv2d_1a_3x3.bn.num_batches_tracked"].dtype == np.int64
    net = FIDInceptionV3()
    ours = fid_weights_to_paddle(net, {**torch_state, **subset}, path)
    assert not any(k.startswith("fc.") or "num_batches" in k for k in ours)
    np.testing.assert_array_equal(ours["Conv2d_1a_3x3.bn._mean"],
                                  subset["Conv2d_1a_3x3.bn.running_mean"])
    np.testing.assert_array_equal(ours["Mixed_5b.branch_pool.bn._variance"],
                                  subset["Mixed_5b.branch_pool.bn.running_var"])
    np.testing.assert_array_equal(ours["Mixed_5b.branch_pool.conv.weight"],
                                  subset["Mixed_5b.branch_pool.conv.weight"])
    with pytest.raises(CheckpointError, match=r"inception_subset.pth: lacks 'Conv2d_2a_3x3.conv"
                                              r".weight' \(.*" + FID_WEIGHTS_URL):
        load_inception(path)


def test_other_inception_weights_are_refused(torch_state):
    net = FIDInceptionV3()
    imagenet = dict(torch_state, **{"fc.weight": np.zeros((1000, 2048), np.float32)})
    with pytest.raises(CheckpointError, match="1000 classes.*" + FID_WEIGHTS_URL):
        fid_weights_to_paddle(net, imagenet, "x.pth")
    aux = dict(torch_state, **{"AuxLogits.conv0.conv.weight": np.zeros((128, 768, 1, 1))})
    with pytest.raises(CheckpointError, match="'AuxLogits.conv0.conv.weight'"):
        fid_weights_to_paddle(net, aux, "x.pth")
    wrong = dict(torch_state, **{"Mixed_7c.branch_pool.bn.running_var": np.ones(7, np.float32)})
    with pytest.raises(CheckpointError, match=r"'Mixed_7c.branch_pool.bn.running_var' has shape "
                                              r"\[7\], the FID Inception's is \[192\]"):
        fid_weights_to_paddle(net, wrong, "x.pth")


def test_random_weights_are_the_seeded_ones(inception_fixture, seeded_model):
    model = load_inception(f"random:{int(inception_fixture['config/seed'])}")
    theirs = seeded_model.state_dict()
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), theirs[k].numpy(), err_msg=k)


def make_folders(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(3):
        write_image(str(tmp_path / "real" / f"{i}.png"), rng.integers(0, 256, (32, 32, 3),
                                                                       dtype=np.uint8))
    for i in range(2):
        write_image(str(tmp_path / "fake" / f"{i}.png"), rng.integers(0, 256, (40, 24, 3),
                                                                       dtype=np.uint8))
    return str(tmp_path / "real"), str(tmp_path / "fake")


def run_tool(*args):
    return subprocess.run([sys.executable, TOOL, *args], capture_output=True, text=True, cwd=ROOT)


@pytest.mark.slow
def test_eval_tool_scores_two_folders_and_caches(tmp_path, monkeypatch, inception_fixture,
                                                 seeded_model):
    real, fake = make_folders(tmp_path)
    seed = int(inception_fixture["config/seed"])
    proc = run_tool("--real", real, "--fake", fake, "--inception-weights", f"random:{seed}",
                    "--kid-subsets", "4")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[0].startswith("WARNING: random Inception weights") and "meaningless" in lines[0]
    assert lines[1] == "real: 3 images, fake: 2 images"
    assert lines[2].startswith("KID x 100: ") and "4 subsets of 2" in lines[2]
    assert lines[3].startswith("FID: ") and lines[3].endswith("[meaningless]")
    assert os.path.isfile(default_cache_path(real)) and os.path.isfile(default_cache_path(fake))

    reads = []
    monkeypatch.setattr(features_mod, "read_image", lambda p: reads.append(p) or read_image(p))
    seeded_model.weights_id = f"random:{seed}"
    cached = folder_features(fake, seeded_model, progress=False)
    assert reads == []  # the second run takes the features from the cache
    direct = features([read_image(p) for p in list_images(fake)], seeded_model, progress=False)
    np.testing.assert_allclose(cached, direct, rtol=0, atol=1e-5)
    fake_f, real_f = cached, folder_features(real, seeded_model, progress=False)
    kid_line = f"KID x 100: {100 * kid(fake_f, real_f, 4).mean:.4f}"
    assert lines[2].startswith(kid_line)
    assert lines[3] == f"FID: {fid(fake_f, real_f):.4f}  [meaningless]"


def test_cache_key_follows_files_and_weights(tmp_path):
    real, _ = make_folders(tmp_path)
    files = list_images(real)
    key = cache_key(files, real, "random:0")
    assert cache_key(files, real, "random:1") != key
    assert cache_key(files[:2], real, "random:0") != key
    os.utime(files[0], ns=(1, 1))
    assert cache_key(files, real, "random:0") != key


@pytest.mark.slow
def test_eval_tool_errors_are_one_line(tmp_path):
    real, fake = make_folders(tmp_path)
    proc = run_tool("--real", real, "--fake", fake)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1
    assert "--inception-weights is required" in proc.stderr and FID_WEIGHTS_URL in proc.stderr
    proc = run_tool("--real", real, "--fake", str(tmp_path / "nope"), "--inception-weights",
                    "random:0")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "nope: no such folder of images" in proc.stderr


def test_bad_images_are_named(seeded_model, tmp_path):
    with pytest.raises(DataError, match="image 0: expected uint8 RGB"):
        features([np.zeros((8, 8, 3), np.float32)], seeded_model)
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="broken.png: cannot be decoded"):
        folder_features(str(tmp_path), seeded_model, progress=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="empty: holds no image files"):
        features(str(tmp_path / "empty"), seeded_model)


@pytest.mark.slow
def test_eval_tool_scores_a_model_both_ways(tmp_path):
    """--weights: translate the test sets both ways and score each against the other domain."""
    from conftest import tiny_overrides
    from ppugatit import checkpoint
    from ppugatit.config import build_config, save_config
    from ppugatit.data.demo import ensure_demo_dataset
    from ppugatit.models.table import MODELS

    ensure_demo_dataset(str(tmp_path / "data"))
    cfg = build_config(os.path.join(ROOT, "configs", "demo.yaml"), tiny_overrides(tmp_path))
    save_config(cfg, str(tmp_path / "config.yaml"))
    checkpoint.save(MODELS["ugatit"](cfg).weights(), str(tmp_path / "weights.pdparams"))
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "eval.py"), "--weights",
                           str(tmp_path / "weights.pdparams"), "--num-images", "3",
                           "--inception-weights", "random:0"],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.strip().splitlines()
    assert lines[0].startswith("WARNING: random Inception weights")
    assert [line.split(":")[0] for line in lines[1:]] == ["A2B", "B2A"]
    assert all("KID x 100" in line and "FID" in line for line in lines[1:])
