"""Building blocks whose behaviour the fixtures do not pin down on their own, and every CPU
kernel (ppugatit/kernels/cpu.py) against the reference code of its layer."""
import numpy as np
import paddle
import paddle.nn.functional as F
import pytest

from ppugatit import layers
from ppugatit.kernels import cpu as kernels
from ppugatit.layers import NearestUpsample2x, conv2d


@pytest.fixture
def onednn():
    kernels.forget_conv_programs()  # each test traces its own programs
    with kernels.switched(onednn_conv=True):
        yield
    kernels.forget_conv_programs()


def grads(fn, x0, w0, x_requires, w_requires):
    x, w = x0.clone(), w0.clone()
    x.stop_gradient, w.stop_gradient = not x_requires, not w_requires
    y = fn(x, w)
    (y * y).sum().backward()
    return y.numpy(), (x.grad.numpy() if x.grad is not None else None), (
        w.grad.numpy() if w.grad is not None else None)


@pytest.mark.parametrize("first_without_grad", [False, True])
def test_onednn_conv_matches_eager_values_and_gradients(onednn, first_without_grad):
    with kernels.switched(onednn_min_flops=0):  # this test's tiny convs too
        onednn_conv_matches_eager(first_without_grad)


def onednn_conv_matches_eager(first_without_grad: bool) -> None:
    rng = np.random.default_rng(0)
    x0 = paddle.to_tensor(rng.standard_normal((2, 4, 9, 9)).astype("float32"))
    w0 = paddle.to_tensor(rng.standard_normal((3, 4, 3, 3)).astype("float32"))
    if first_without_grad:  # inference first (weights are parameters) must not poison training
        w = w0.clone()
        w.stop_gradient = False
        with paddle.no_grad():
            conv2d(x0, w, stride=2)
    b0 = rng.standard_normal(3).astype("float32")
    for x_req, w_req in ((False, True), (True, True), (True, False)):
        ref = grads(lambda x, w: F.conv2d(x, w, stride=2), x0, w0, x_req, w_req)
        got = grads(lambda x, w: conv2d(x, w, stride=2), x0, w0, x_req, w_req)
        for r, g in zip(ref, got):
            assert (r is None) == (g is None)
            if r is not None:
                np.testing.assert_allclose(g, r, rtol=1e-5, atol=1e-5 * np.abs(r).max())
    # the bias is added outside the program: its value and gradient must still be F.conv2d's
    results = []
    for fn in (F.conv2d, conv2d):
        b = paddle.to_tensor(b0, stop_gradient=False)
        y = fn(x0, w0, b, stride=2)
        (y * y).sum().backward()
        results.append((y.numpy(), b.grad.numpy()))
    for r, g in zip(*results):
        np.testing.assert_allclose(g, r, rtol=1e-5, atol=1e-5 * np.abs(r).max())
    assert kernels.conv_programs(), "the convolutions did not run as oneDNN programs"


def test_only_convs_worth_a_program_run_through_onednn(onednn):
    """Below the oneDNN threshold a conv stays eager: its program's fixed cost would exceed it."""
    small = paddle.randn([1, 8, 10, 10]), paddle.randn([8, 8, 3, 3])
    assert kernels.conv_flops(small[0].shape, small[1].shape, 1) == 2 * 8 * 8 * 9 * 8 * 8
    conv2d(*small)
    assert not kernels.conv_programs()
    x, w = paddle.randn([1, 32, 66, 66]), paddle.randn([32, 32, 3, 3])
    assert kernels.conv_flops(x.shape, w.shape, 1) >= kernels.active().onednn_min_flops
    np.testing.assert_allclose(conv2d(x, w).numpy(), F.conv2d(x, w).numpy(),
                               rtol=1e-4, atol=1e-4)
    assert kernels.conv_programs()


@pytest.mark.parametrize("kernel", [True, False], ids=["kernel", "reference"])
def test_nearest_upsample_is_paddles_nearest_interpolation_with_its_gradient(kernel):
    x_np = np.random.default_rng(0).standard_normal([2, 3, 5, 4]).astype("float32")
    g = paddle.randn([2, 3, 10, 8])
    results = []
    for up in (NearestUpsample2x(), lambda t: F.interpolate(t, scale_factor=2, mode="nearest")):
        x = paddle.to_tensor(x_np, stop_gradient=False)
        with kernels.switched(upsample_gradient=kernel):
            y = up(x)
            (y * g).sum().backward()
        results.append((y.numpy(), x.grad.numpy()))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-6, atol=1e-6)
    # each input pixel's gradient is the sum over the 2 x 2 block it was copied to
    blocks = g.numpy().reshape(2, 3, 5, 2, 4, 2).sum(axis=(3, 5))
    np.testing.assert_allclose(results[0][1], blocks, rtol=1e-6, atol=1e-6)


PAD_CASES = [([2, 3, 8, 6], 1), ([1, 4, 64, 64], 1), ([1, 4, 70, 64], 3), ([2, 16, 34, 30], 3),
             ([2, 8, 40, 33], 2), ([1, 2, 200, 170], 1)]


@pytest.mark.parametrize("kernel", [True, False], ids=["kernel", "reference"])
@pytest.mark.parametrize("shape, p", PAD_CASES)
def test_reflection_pad_is_numpys_reflect_with_its_gradient(shape, p, kernel):
    """With the kernel, maps up to MATMUL_PAD_MAX (its gradient: MATMUL_PAD_GRAD_MAX) through
    products with a fold matrix, larger ones through slices with a hand-written gradient;
    without, pad3d: all must be ReflectionPad2d, bit for bit."""
    assert any(max(shape[2:]) <= kernels.MATMUL_PAD_MAX for shape, _ in PAD_CASES)
    assert any(max(shape[2:]) > kernels.MATMUL_PAD_MAX for shape, _ in PAD_CASES)
    rng = np.random.default_rng(0)
    x_np = rng.standard_normal(shape).astype("float32")
    g_np = rng.standard_normal([shape[0], shape[1], shape[2] + 2 * p, shape[3] + 2 * p]).astype(
        "float32")
    x = paddle.to_tensor(x_np, stop_gradient=False)
    with kernels.switched(pad_gradient=kernel):
        y = layers.ReflectionPad2D(p)(x)
        (y * paddle.to_tensor(g_np)).sum().backward()
    np.testing.assert_array_equal(y.numpy(), np.pad(x_np, [(0, 0), (0, 0), (p, p), (p, p)],
                                                    mode="reflect"))
    # the gradient adds each padded position's gradient to the pixel it copies
    rows = np.abs(np.arange(-p, shape[2] + p))
    rows = np.where(rows >= shape[2], 2 * (shape[2] - 1) - rows, rows)
    cols = np.abs(np.arange(-p, shape[3] + p))
    cols = np.where(cols >= shape[3], 2 * (shape[3] - 1) - cols, cols)
    want = np.zeros(shape, np.float64)
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            want[:, :, r, c] += g_np[:, :, i, j]
    np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("min_flops", [0, float("inf")], ids=["onednn", "eager"])
def test_both_conv_paths_match_float64(onednn, min_flops):
    """Which kernel a conv takes changes float32 rounding, not accuracy: the output and weight
    gradient of either path stay within a few 1e-7 of an exact float64 convolution."""
    with kernels.switched(onednn_min_flops=min_flops):
        conv_paths_match_float64()
    assert bool(kernels.conv_programs()) == (min_flops == 0)


def conv_paths_match_float64() -> None:
    from numpy.lib.stride_tricks import sliding_window_view
    rng = np.random.default_rng(0)
    for x_shape, w_shape, stride in (((1, 16, 34, 34), (32, 16, 4, 4), 2),
                                     ((2, 32, 18, 18), (32, 32, 3, 3), 1)):
        x = rng.standard_normal(x_shape)
        w = rng.standard_normal(w_shape) / np.sqrt(np.prod(w_shape[1:]))
        patches = sliding_window_view(x, w_shape[2:], axis=(2, 3))[:, :, ::stride, ::stride]
        y_ref = np.einsum("nchwij,kcij->nkhw", patches, w)
        g = rng.standard_normal(y_ref.shape)
        dw_ref = np.einsum("nkhw,nchwij->kcij", g, patches)
        wt = paddle.to_tensor(w.astype("float32"), stop_gradient=False)
        y = conv2d(paddle.to_tensor(x.astype("float32")), wt, stride=stride)
        with kernels.backward_context():
            (y * paddle.to_tensor(g.astype("float32"))).sum().backward()
        for got, ref in ((y.numpy(), y_ref), (wt.grad.numpy(), dw_ref)):
            assert np.abs(got - ref).max() < 2e-6 * np.abs(ref).max()


def test_spectral_norm_groups_equal_separate_calls():
    """A discriminator called once on [real; fake] inside spectral_norm_groups(2) must give
    what two calls give (the official D update): outputs, u and v after, weight gradients."""
    from ppugatit.models.ugatit.networks import Discriminator

    paddle.seed(0)
    nets = [Discriminator(3, 4, 5), Discriminator(3, 4, 5)]
    nets[1].set_state_dict(nets[0].state_dict())
    rng = np.random.default_rng(0)
    real, fake = (paddle.to_tensor(rng.uniform(-1, 1, (2, 3, 32, 32)).astype("float32"))
                  for _ in range(2))
    separate = [nets[0](real), nets[0](fake)]
    with layers.spectral_norm_groups([nets[1]], 2):
        grouped = nets[1](paddle.concat([real, fake]))
    for i in range(2):  # logit, cam_logit
        np.testing.assert_allclose(grouped[i][:2].numpy(), separate[0][i].numpy(), atol=1e-5)
        np.testing.assert_allclose(grouped[i][2:].numpy(), separate[1][i].numpy(), atol=1e-5)
    losses = [sum((s[0] ** 2).mean() + (s[1] ** 2).mean() for s in separate),
              (grouped[0] ** 2).reshape([2, -1]).mean(1).sum() + (grouped[1] ** 2).reshape(
                  [2, -1]).mean(1).sum()]
    for loss in losses:
        loss.backward()
    ref, got = nets[0].state_dict(), nets[1].state_dict()
    for name, p in nets[0].named_parameters():
        q = dict(nets[1].named_parameters())[name]
        np.testing.assert_allclose(q.grad.numpy(), p.grad.numpy(), rtol=1e-4,
                                   atol=1e-5 * np.abs(p.grad.numpy()).max(), err_msg=name)
    for name in ref:
        if name.endswith(("weight_u", "weight_v")):  # two power iterations each
            np.testing.assert_allclose(got[name].numpy(), ref[name].numpy(), atol=1e-6)
    # the layers are the paper's again
    assert not any("forward" in m.__dict__ for m in nets[1].sublayers())


def _adailn_float64(x, rho, gamma, beta, eps=1e-5):
    """U-GAT-IT's AdaILN as the official code writes it, in float64: torch.var is unbiased."""
    a_in = (x - x.mean((2, 3), keepdims=True)) / np.sqrt(x.var((2, 3), ddof=1, keepdims=True) + eps)
    a_ln = (x - x.mean((1, 2, 3), keepdims=True)) / np.sqrt(
        x.var((1, 2, 3), ddof=1, keepdims=True) + eps)
    out = rho[None, :, None, None] * a_in + (1 - rho[None, :, None, None]) * a_ln
    return out * gamma[:, :, None, None] + beta[:, :, None, None]


@pytest.mark.parametrize("kernel", [True, False], ids=["fused", "reference"])
def test_adailn_is_the_papers_with_unbiased_variances(kernel):
    """Both paths against the official formula in float64, values and input gradients alike
    between them."""
    rng = np.random.default_rng(0)
    x_np = rng.standard_normal((2, 6, 9, 7)) * 3 + 1
    rho = rng.uniform(0, 1, 6)
    gamma, beta = rng.standard_normal((2, 6)), rng.standard_normal((2, 6))
    norm = layers.AdaILN(6)
    paddle.assign(paddle.to_tensor(rho.reshape(1, 6, 1, 1).astype("float32")), norm.rho)
    x = paddle.to_tensor(x_np.astype("float32"), stop_gradient=False)
    with kernels.switched(fused_norm=kernel):
        y = norm(x, paddle.to_tensor(gamma.astype("float32")),
                 paddle.to_tensor(beta.astype("float32")))
    np.testing.assert_allclose(y.numpy(), _adailn_float64(x_np, rho, gamma, beta), atol=2e-5)


@pytest.mark.parametrize("norm_class", ["ugatit.ILN", "ugatit.AdaILN", "nicegan.ILN",
                                        "nicegan.AdaILN"])
def test_fused_normalisation_kernel_equals_the_reference(norm_class):
    """The fused kernel and the reference code: same outputs, same gradients for the input and
    for every parameter (rho, gamma, beta), for U-GAT-IT's and NICE-GAN's layers."""
    from ppugatit.models.nicegan import networks as nicegan

    family, name = norm_class.split(".")
    cls = getattr(layers if family == "ugatit" else nicegan, name)
    rng = np.random.default_rng(1)
    x_np = rng.standard_normal((3, 5, 8, 8)).astype("float32")
    g_np = rng.standard_normal((3, 5, 8, 8)).astype("float32")
    gb = [rng.standard_normal((3, 5)).astype("float32") for _ in range(2)]
    paddle.seed(0)
    norm = cls(5)
    with paddle.no_grad():
        for p in norm.parameters():  # away from the initial values, where terms vanish
            p.set_value(p + paddle.to_tensor(rng.uniform(0.1, 0.5, p.shape).astype("float32")))
    results = []
    for kernel in (True, False):
        x = paddle.to_tensor(x_np, stop_gradient=False)
        extra = [paddle.to_tensor(t, stop_gradient=False) for t in gb] if "Ada" in name else []
        with kernels.switched(fused_norm=kernel):
            y = norm(x, *extra)
            (y * paddle.to_tensor(g_np)).sum().backward()
        results.append([y.numpy(), x.grad.numpy()] + [t.grad.numpy() for t in extra]
                       + [p.grad.numpy().copy() for p in norm.parameters()])
        norm.clear_gradients()
    for fused, ref in zip(*results):
        np.testing.assert_allclose(fused, ref, rtol=1e-4, atol=1e-4 * max(1, np.abs(ref).max()))
