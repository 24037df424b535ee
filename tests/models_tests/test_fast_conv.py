"""The channels-last CPU convolution against Chainer's own, values and gradients."""
import chainer
import chainer.functions as F
import numpy as np
import pytest
from chainer import gradient_check

from recurrent_sim.models import fast_conv, fast_conv_kernels, fast_conv_layout
from recurrent_sim.utils import cpu_pool


def nhwc(x):
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1))


def nchw(x):
    return x.transpose(0, 3, 1, 2)


def random_geometries(n, seed):
    """Random (batch, in_ch, out_ch, kernel, stride, pad, image) with a non-empty output."""
    rng = np.random.RandomState(seed)
    found = []
    while len(found) < n:
        kernel = tuple(rng.randint(1, 8, 2))
        stride = tuple(rng.randint(1, 4, 2))
        pad = tuple(rng.randint(0, 4, 2))
        image = tuple(rng.randint(k, k + 12) for k in kernel)
        if any(fast_conv.conv_output_size(*a) <= 0 for a in zip(image, kernel, stride, pad)):
            continue
        found.append((rng.randint(1, 4), rng.randint(1, 6), rng.randint(1, 6), kernel, stride, pad, image))
    return found


@pytest.fixture(params=["per_tap", "gathered"])
def strategy(request, monkeypatch):
    """Run a test with one product per kernel tap and with gathered columns."""
    monkeypatch.setattr(fast_conv_layout, "MIN_BLOCK_FOR_TAPS", 1 if request.param == "per_tap" else 10**6)
    return request.param


@pytest.mark.parametrize("geometry", random_geometries(25, seed=0))
def test_convolution_matches_chainer(geometry, strategy):
    batch, in_ch, out_ch, kernel, stride, pad, image = geometry
    rng = np.random.RandomState(1)
    x = rng.randn(batch, in_ch, *image)
    W = rng.randn(out_ch, in_ch, *kernel)
    b = rng.randn(out_ch)
    gy_shape = F.convolution_2d(x, W, b, stride, pad).shape
    gy = rng.randn(*gy_shape)

    xs, Ws, bs = chainer.Variable(x), chainer.Variable(W), chainer.Variable(b)
    expected = F.convolution_2d(xs, Ws, bs, stride, pad)
    expected.grad = gy
    expected.backward()
    xf, Wf, bf = chainer.Variable(nhwc(x)), chainer.Variable(W), chainer.Variable(b)
    got = fast_conv.convolution_2d_nhwc(xf, Wf, bf, stride, pad)
    got.grad = nhwc(gy)
    got.backward()

    np.testing.assert_allclose(nchw(got.array), expected.array, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(nchw(xf.grad), xs.grad, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(Wf.grad, Ws.grad, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(bf.grad, bs.grad, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("geometry", random_geometries(25, seed=1))
@pytest.mark.parametrize("explicit_outsize", [False, True])
def test_deconvolution_matches_chainer(geometry, explicit_outsize, strategy):
    # The deconvolution maps a convolution's output size back to `image`;
    # with an explicit outsize that is `image` exactly, else Chainer's default.
    batch, in_ch, out_ch, kernel, stride, pad, image = geometry
    small = tuple(fast_conv.conv_output_size(*a) for a in zip(image, kernel, stride, pad))
    outsize = image if explicit_outsize else None
    rng = np.random.RandomState(2)
    x = rng.randn(batch, in_ch, *small)
    W = rng.randn(in_ch, out_ch, *kernel)
    b = rng.randn(out_ch)

    xs, Ws, bs = chainer.Variable(x), chainer.Variable(W), chainer.Variable(b)
    expected = F.deconvolution_2d(xs, Ws, bs, stride, pad, outsize=outsize)
    if min(expected.shape[2:]) <= 0:
        pytest.skip("default deconvolution size is empty")
    gy = rng.randn(*expected.shape)
    expected.grad = gy
    expected.backward()
    xf, Wf, bf = chainer.Variable(nhwc(x)), chainer.Variable(W), chainer.Variable(b)
    got = fast_conv.deconvolution_2d_nhwc(xf, Wf, bf, stride, pad, outsize=outsize)
    got.grad = nhwc(gy)
    got.backward()

    assert nchw(got.array).shape == expected.shape
    np.testing.assert_allclose(nchw(got.array), expected.array, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(nchw(xf.grad), xs.grad, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(Wf.grad, Ws.grad, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(bf.grad, bs.grad, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize(
    "kernel, stride, pad, image",
    [((3, 3), (1, 1), (1, 1), (5, 6)), ((4, 5), (2, 3), (1, 2), (9, 11)), ((6, 6), (2, 2), (2, 2), (11, 11))],
)
def test_gradients_numerically(kernel, stride, pad, image, strategy):
    rng = np.random.RandomState(3)
    x = rng.randn(2, *image, 3)
    W = rng.randn(4, 3, *kernel)
    b = rng.randn(4)
    y = fast_conv.convolution_2d_nhwc(x, W, b, stride, pad).array
    gy = rng.randn(*y.shape)

    def conv(x, W, b):
        return fast_conv.convolution_2d_nhwc(x, W, b, stride, pad)

    gradient_check.check_backward(conv, (x, W, b), gy, dtype=np.float64, atol=1e-6, rtol=1e-5)
    gradient_check.check_double_backward(
        lambda x, W: fast_conv.convolution_2d_nhwc(x, W, None, stride, pad),
        (x, W), gy, (rng.randn(*x.shape), rng.randn(*W.shape)),
        dtype=np.float64, atol=1e-6, rtol=1e-5,
    )

    Wd = rng.randn(4, 3, *kernel)

    def deconv(y, W, b):
        return fast_conv.deconvolution_2d_nhwc(y, W, b, stride, pad, outsize=image)

    gradient_check.check_backward(
        deconv, (rng.randn(*y.shape), Wd, rng.randn(3)), rng.randn(*x.shape),
        dtype=np.float64, atol=1e-6, rtol=1e-5,
    )


def test_chunks_give_the_same_result(monkeypatch):
    rng = np.random.RandomState(4)
    x = rng.randn(7, 21, 21, 8).astype(np.float32)
    W = rng.randn(16, 8, 6, 6).astype(np.float32)
    whole = fast_conv.convolution_2d_nhwc(x, W, None, 2, 2).array
    monkeypatch.setattr(fast_conv_layout, "CHUNK_BYTES", 1)  # one image per chunk
    chunked = fast_conv.convolution_2d_nhwc(x, W, None, 2, 2).array
    np.testing.assert_allclose(chunked, whole, rtol=1e-5, atol=1e-5)


def test_float32_stays_float32():
    x = np.ones((2, 10, 10, 1), np.float32)
    y = fast_conv.convolution_2d_nhwc(x, np.ones((3, 1, 4, 4), np.float32), stride=2, pad=1)
    z = fast_conv.deconvolution_2d_nhwc(y, np.ones((3, 1, 4, 4), np.float32), stride=2, pad=1, outsize=(10, 10))
    assert y.dtype == np.float32 and y.shape == (2, 5, 5, 3)
    assert z.dtype == np.float32 and z.shape == (2, 10, 10, 1)


def test_bad_outsize_is_refused():
    x = np.ones((1, 5, 5, 2), np.float32)
    W = np.ones((2, 1, 4, 4), np.float32)
    with pytest.raises(ValueError, match="outsize"):
        fast_conv.deconvolution_2d_nhwc(x, W, stride=2, pad=1, outsize=(20, 20))


def test_fast_path_switch():
    assert fast_conv.fast_path(np)
    with chainer.using_config(fast_conv.CONFIG_KEY, False):
        assert not fast_conv.fast_path(np)


@pytest.fixture(params=[1, 2], ids=["one_thread", "two_threads"])
def workers(request, monkeypatch):
    """Run a test with the chunks in the calling thread and spread over two threads."""
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", str(request.param))
    monkeypatch.setattr(cpu_pool, "usable_cpus", lambda: 2)
    monkeypatch.setattr(fast_conv_layout, "CHUNK_BYTES", 1)  # one image per chunk: several chunks
    return request.param


@pytest.mark.parametrize("double_backprop", [False, True])
@pytest.mark.parametrize("transposed", [False, True])
def test_fused_relu_and_bias_gradients_match_chainer(transposed, double_backprop, workers, strategy):
    # Array-level backward (no double backprop: mask and bias gradient taken
    # chunk by chunk) and the graph-level one give Chainer's F.relu(conv) gradients.
    rng = np.random.RandomState(5)
    kernel, stride, pad, image = (6, 6), (2, 2), (2, 2), (11, 11)
    small = tuple(fast_conv.conv_output_size(*a) for a in zip(image, kernel, stride, pad))
    if transposed:
        x, W = rng.randn(5, 3, *small), rng.randn(3, 4, *kernel)
        expected_fn = lambda x, W, b: F.deconvolution_2d(x, W, b, stride, pad, outsize=image)  # NOQA
        fast_fn = lambda x, W, b: fast_conv.deconvolution_2d_nhwc(x, W, b, stride, pad, image, relu=True)  # NOQA
    else:
        x, W = rng.randn(5, 3, *image), rng.randn(4, 3, *kernel)
        expected_fn = lambda x, W, b: F.convolution_2d(x, W, b, stride, pad)  # NOQA
        fast_fn = lambda x, W, b: fast_conv.convolution_2d_nhwc(x, W, b, stride, pad, relu=True)  # NOQA
    b = rng.randn(4)
    xs, Ws, bs = chainer.Variable(x), chainer.Variable(W), chainer.Variable(b)
    expected = F.relu(expected_fn(xs, Ws, bs))
    gy = rng.randn(*expected.shape)
    expected.grad = gy
    expected.backward()
    xf, Wf, bf = chainer.Variable(nhwc(x)), chainer.Variable(W), chainer.Variable(b)
    got = fast_fn(xf, Wf, bf)
    got.grad = nhwc(gy)
    got.backward(enable_double_backprop=double_backprop)

    assert (expected.array == 0).any() and (expected.array > 0).any()
    np.testing.assert_allclose(nchw(got.array), expected.array, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(nchw(xf.grad), xs.grad, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(Wf.grad, Ws.grad, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(bf.grad, bs.grad, rtol=1e-10, atol=1e-10)


def test_threads_give_the_same_result(monkeypatch):
    rng = np.random.RandomState(6)
    x = rng.randn(9, 21, 21, 8).astype(np.float32)
    W = rng.randn(16, 8, 6, 6).astype(np.float32)
    gy = rng.randn(9, 10, 10, 16).astype(np.float32)

    def run():
        xv, Wv = chainer.Variable(x), chainer.Variable(W)
        y = fast_conv.convolution_2d_nhwc(xv, Wv, None, 2, 2, relu=True)
        y.grad = gy
        y.backward()
        return y.array, xv.grad, Wv.grad

    monkeypatch.setattr(fast_conv_layout, "CHUNK_BYTES", 1)
    monkeypatch.setattr(cpu_pool, "usable_cpus", lambda: 2)
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    serial = run()
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
    threads = []
    original = cpu_pool.map_chunks
    monkeypatch.setattr(
        fast_conv_kernels, "map_chunks", lambda f, n: original(lambda i: threads.append(i) or f(i), n)
    )
    parallel = run()
    assert len(threads) >= 3 * 9  # forward, input and weight gradient, one image per chunk
    for a, b in zip(serial, parallel):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
