"""The quality task, its scores and baselines, paired evaluation in the Trainer, mean_KID."""
import os

import numpy as np
import pytest

from conftest import FIXTURES
from ppugatit.data.quality_task import ensure_quality_task, load_task, make_task
from ppugatit.errors import DataError
from ppugatit.metrics.fid_kid import kid, mean_kid
from ppugatit.alignment import fixture_config, load_fixture
from ppugatit.metrics.paired import l1, ssim
from quality_run import bench_config, initial_weights, train_and_score
from stats import baselines, mann_whitney, wilcoxon_signed_rank


@pytest.fixture(scope="module")
def task32():
    return make_task(32)


def test_the_task_is_deterministic_and_its_test_set_paired(task32, tmp_path):
    again = make_task(32)
    for k, v in task32.items():
        np.testing.assert_array_equal(v, again[k], err_msg=k)
    assert task32["testA"].shape == task32["testB"].shape == (24, 32, 32, 3)
    # the same scenes: the objects sit where they sit in the other domain, so the pictures
    # differ from the backgrounds at the same places
    mask = [np.abs(x.astype(int) - np.median(x, axis=(0, 1))).sum(-1) > 60
            for x in (task32["testA"][0], task32["testB"][0])]
    assert (mask[0] & mask[1]).sum() > 0.6 * min(mask[0].sum(), mask[1].sum())
    root = ensure_quality_task(str(tmp_path / "task"), 32)
    on_disk = load_task(root)
    np.testing.assert_array_equal(on_disk["testB"], task32["testB"])
    assert sorted(os.listdir(tmp_path / "task" / "testA")) == sorted(
        os.listdir(tmp_path / "task" / "testB"))


def test_scores_and_baselines(task32):
    b = task32["testB"]
    assert l1(b, b) == 0 and ssim(b, b) == pytest.approx(1.0)
    assert l1(np.zeros_like(b), np.full_like(b, 255)) == 255
    scores = baselines(task32)
    for d in ("A2B", "B2A"):
        # the domains differ in palette first: the colour transfer is far better than the
        # input itself, yet far from the truth (it keeps the shapes and textures)
        assert scores[f"identity_{d}"]["l1"] > 120
        assert 25 < scores[f"colour_transfer_{d}"]["l1"] < 0.5 * scores[f"identity_{d}"]["l1"]


def test_paired_evaluation_is_logged_and_refused_for_unpaired_sets(tmp_path):
    from visualdl import LogReader

    root = ensure_quality_task(str(tmp_path / "task"), 32)
    small = {"model.ch": 4, "model.n_res": 1, "model.n_dis_global": 5, "model.n_dis_local": 3}
    cfg = bench_config("ugatit", 32, 4, 0, root, str(tmp_path / "out"), 2, 2e-4, extra=small)
    history = train_and_score(cfg)
    assert sorted(history) == [0, 2, 4]
    assert {"l1_A2B", "l1_B2A", "ssim_A2B", "ssim_B2A", "detail_A2B", "detail_B2A"} == set(
        history[4])
    reader = LogReader(file_path=next((tmp_path / "out" / "vdl").iterdir()).as_posix())
    assert [r.id for r in reader.get_data("scalar", "eval/l1_A2B")] == [0, 2, 4]
    assert (tmp_path / "out" / "best.pdparams").is_file()

    os.rename(tmp_path / "task" / "testB" / "0003.png", tmp_path / "task" / "testB" / "x.png")
    cfg.output_dir = str(tmp_path / "out2")
    with pytest.raises(DataError, match="testA and testB are not paired.*'0003.png'"):
        train_and_score(cfg)


def test_mann_whitney_exact_p_values():
    """Textbook cases, and two computed by scipy.stats.mannwhitneyu(method="exact")."""
    assert mann_whitney([1, 2, 3], [4, 5, 6]) == (0.0, 0.1)  # 2 of the 20 orderings as extreme
    assert mann_whitney([4, 5, 6], [1, 2, 3]) == (9.0, 0.1)
    u, p = mann_whitney([1, 3], [2, 4])
    assert u == 1.0 and abs(p - 2 / 3) < 1e-12
    u, p = mann_whitney([0.1, 0.5, 0.7, 1.2, 1.4, 2.0, 2.2, 3.1],
                        [0.3, 1.5, 1.9, 2.4, 2.6, 2.8, 3.3, 3.9])
    assert u == 16.0 and abs(p - 0.10489510489510488) < 1e-12
    u, p = mann_whitney([5.0, 1.0, 3.0, 9.0, 7.0],
                        [2.0, 4.0, 6.0, 8.0, 10.0, 12.0, 11.0, 0.5, 13.0])
    assert u == 15.0 and abs(p - 0.36363636363636365) < 1e-12


def test_wilcoxon_signed_rank_exact_p_values():
    """Two computed by scipy.stats.wilcoxon(method="exact") (which reports min(W+, W-)), and
    by hand: all eight pairs one way (2 of 256 sign patterns as extreme), a tie (ranks 1,
    2.5, 2.5: W+ 5 reached or passed by 2 of 8 patterns), a zero difference dropped."""
    assert wilcoxon_signed_rank([12, 7, 15, 3, 9, 20, 5, 11, 8],
                                [11, 10, 11, 1, 1, 15, 12, 2, 2]) == (35.0, 0.1640625)
    assert wilcoxon_signed_rank([1.2, 3.4, 2.2, 5.1, 0.7],
                                [1.0, 3.0, 2.5, 4.0, 0.1]) == (13.0, 0.1875)
    assert wilcoxon_signed_rank(range(8), [x + 0.5 + x / 10 for x in range(8)]) == (
        0.0, 2 / 256)
    assert wilcoxon_signed_rank([3, 1, 2], [1, 2, 0]) == (5.0, 0.5)
    assert wilcoxon_signed_rank([1, 2, 3], [1, 0, 0]) == (3.0, 0.5)
    with pytest.raises(ValueError, match="differ in length"):
        wilcoxon_signed_rank([1, 2], [1])


def test_mean_kid_is_the_mean_of_the_two_standard_kids():
    """mean_KID (taki0112/GAN_Metrics-Tensorflow) from KID(target, fake) and KID(source, fake),
    each the standard KID checked against NICE-GAN's code in test_metrics.py."""
    with np.load(os.path.join(FIXTURES, "kid_fid_reference.npz")) as data:
        fake, real = data["features/fake"], data["features/real"]
    target, source = real, fake[200:] + 0.5  # a source domain unlike the fakes
    to_target = kid(fake[:200], target, 10, 100, seed=1)
    to_source = kid(fake[:200], source, 10, 100, seed=1)
    m = mean_kid(to_target, to_source)
    assert m.mean == pytest.approx((to_target.mean + to_source.mean) / 2, rel=1e-12)
    assert m.std == pytest.approx((to_target.std + to_source.std) / 2, rel=1e-12)
    assert to_source.mean > 2 * to_target.mean  # so the two differ: a swap would show


@pytest.mark.slow
def test_evaluator_reports_kid_and_mean_kid_per_direction(tmp_path):
    """The Evaluator's mean_KID of A2B pairs the translations with testB (target) and testA
    (source), recomputed here from the features."""
    from ppugatit.engine.evaluator import Evaluator
    from ppugatit.metrics.features import features
    from ppugatit.models.table import MODELS

    root = ensure_quality_task(str(tmp_path / "task"), 32)
    cfg = bench_config("ugatit", 32, 2, 0, root, str(tmp_path / "out"), 1, 2e-4,
                       extra={"model.ch": 4, "model.n_res": 1, "model.n_dis_global": 5,
                              "model.n_dis_local": 3})
    model = MODELS["ugatit"](cfg)
    ev = Evaluator(model, root, "random:0", num_images=4, kid_subsets=3, paired=True)
    scores = ev(model)
    fake = features(ev.outputs(model, "A2B"), ev.inception, 16, False)
    to_b = kid(fake, ev.real_features("B"), 3, 4, 0).mean
    to_a = kid(fake, ev.real_features("A"), 3, 4, 0).mean
    assert scores["kid_A2B"] == pytest.approx(100 * to_b, rel=1e-9)
    assert scores["mean_kid_A2B"] == pytest.approx(100 * (to_a + to_b) / 2, rel=1e-9)
    assert {"l1_A2B", "ssim_B2A", "mean_kid_std_B2A", "fid_B2A"} <= set(scores)



@pytest.mark.slow
def test_nicegan_training_learns_the_task_and_a_step_without_adversarial_term_does_not(tmp_path):
    """NICE-GAN trained by the Trainer on the quality task at the benchmark's setting (light,
    ch 8, n_res 2, n_dis 6, 64 px, lr 2e-4, 300 iterations, seed 0: docs/quality.md), scored
    after the last iteration; L1 and SSIM averaged over A2B and B2A.

    Measured with research/quality_bench.py at iteration 300 (mean L1 / mean SSIM), on an Intel
    Xeon: the official code, seeds 0-7: 22.7 / 0.183, 22.8 / 0.187, 21.3 / 0.200,
    23.0 / 0.193, 21.0 / 0.209, 22.6 / 0.185, 22.6 / 0.188, 22.1 / 0.197;
    ours, seeds 0-7: 37.6 / 0.126, 21.2 / 0.214, 24.0 / 0.171, 21.9 / 0.192, 21.7 / 0.205,
    24.7 / 0.167, 44.1 / 0.116, 23.8 / 0.171;
    ours with the adversarial term dropped from the generator loss (``G_loss_A = 0.0 *
    G_ad_loss_A + ...``, same for B), seed 0: 47.5 / 0.095 (47.8 / 0.094 in this test), as
    it should be: the decoders then learn from L1 losses alone and blur.
    Over 48 seeds on an AMD EPYC both codes have a slow mode at this setting (the official
    code in 5 of 48 runs, 6 of 48 from our initial weights; L1 37 to 46.5, SSIM 0.096 to
    0.13); the runs that found the translation score L1 21 to 26.5. Our seed 0 is a slow run on
    both machines (40.8 / 0.120 on the AMD one). The bounds (L1 < 46, SSIM > 0.105) lie
    between the broken step and every run that found the translation, and pass seed 0 by 5
    and 0.015 (docs/quality.md). U-GAT-IT has no such test:
    without its adversarial term it scores *better* L1 and SSIM at this length (seed 0:
    35.8 / 0.148 against 39.4 / 0.131), its generator being driven by the CAM (x 1000), cycle
    and identity losses early on (docs/quality.md).
    """
    root = ensure_quality_task(str(tmp_path / "task"), 64)
    cfg = bench_config("nicegan", 64, 300, 0, root, str(tmp_path / "out"), 300, 2e-4)
    scores = train_and_score(cfg)[300]
    l1_mean = (scores["l1_A2B"] + scores["l1_B2A"]) / 2
    ssim_mean = (scores["ssim_A2B"] + scores["ssim_B2A"]) / 2
    assert l1_mean < 46 and ssim_mean > 0.105, scores


def _ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov D: the largest gap between the empirical CDFs."""
    a, b = np.sort(a), np.sort(b)
    v = np.concatenate([a, b])
    return float(np.abs(np.searchsorted(a, v, "right") / a.size
                        - np.searchsorted(b, v, "right") / b.size).max())


@pytest.mark.parametrize("name", ["ugatit_trajectory.npz", "nicegan_trajectory.npz"])
def test_our_initial_weights_follow_the_official_initialisation(name, tmp_path):
    """Our draw and torch's, tensor by tensor: the trajectory fixtures' ``before/`` is the
    official code's own initialisation (torch.manual_seed(0); only two elements of each
    genA2B rho moved). A tensor the official code fills with one value (rho, gamma, beta,
    lamda) must hold that value; every other tensor must pass a two-sample Kolmogorov-Smirnov
    test against the official one at alpha 1e-6 (measured: D at most 0.59 of the critical
    value); and a weight of 256 elements or more may not reach past the official one's
    largest value by 5% (PyTorch's uniform +-1/sqrt(fan_in) has a hard bound, which a normal
    draw of the same spread crosses). This is why the official code trained from our draw
    (quality_bench.py --official-init ours) stands for the official method: at 128 px the
    same check over ten draws a side gives KS p-values from 0.005 to 1 over 168 tensors,
    none below Bonferroni's 3e-4 (docs/quality.md)."""
    fixture = load_fixture(os.path.join(FIXTURES, name))
    over = fixture_config(fixture)
    root = ensure_quality_task(str(tmp_path / "task"), 32)
    cfg = bench_config(over["model.name"], over["model.img_size"], 2, 0, root,
                       str(tmp_path / "out"), 1, 2e-4, extra=over)
    critical = np.sqrt(-np.log(1e-6 / 2) / 2)
    for key, ours in initial_weights(cfg).items():
        ref, ours = np.asarray(fixture["before/" + key]).ravel(), ours.ravel()
        values, counts = np.unique(ref, return_counts=True)
        if ref.size == 1 and key.endswith("weight_u"):  # a unit vector of one element
            assert abs(float(ours[0])) == pytest.approx(1.0), key
        elif counts.max() >= 0.75 * ref.size:  # a constant (but for the moved rho elements)
            assert np.all(ours == values[counts.argmax()]), key
        else:
            d = _ks_statistic(ours, ref)
            assert d < critical * np.sqrt(2 / ref.size), (key, d)
            if ref.size >= 256 and not key.endswith(("weight_u", "weight_v")):
                assert np.abs(ours).max() <= 1.05 * np.abs(ref).max(), key


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ugatit_light_step.npz", "nicegan_light_step.npz"])
def test_our_initial_weights_fit_the_official_networks(name, tmp_path):
    """quality_bench.py --official-init ours hands these to the official runner, which loads
    them strictly: every official tensor (the fixture's ``before/``, written by the official
    code) must be there, in its shape, and nothing else; the same seed gives the same draw."""
    fixture = load_fixture(os.path.join(FIXTURES, name))
    over = fixture_config(fixture)
    root = ensure_quality_task(str(tmp_path / "task"), 32)

    def draw(seed: int) -> dict:
        out = tmp_path / f"out{len(list(tmp_path.glob('out*')))}"
        cfg = bench_config(over["model.name"], over["model.img_size"], 2, seed, root, str(out),
                           1, 2e-4, extra=over)
        return initial_weights(cfg)

    ours = draw(0)
    official = {k.split("/", 1)[1]: v.shape for k, v in fixture.items() if k.startswith("before/")}
    assert {k: v.shape for k, v in ours.items()} == official
    again, other = draw(0), draw(1)
    assert all(np.array_equal(ours[k], again[k]) for k in ours)
    assert any(not np.array_equal(ours[k], other[k]) for k in ours)
