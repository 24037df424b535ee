"""The motion architecture moves the last frame's pixels: kernels shift, masks choose, the
previous frame reaches the encoder."""
import chainer
import numpy as np
import pytest

from recurrent_sim.models import build_simulator
from recurrent_sim.models.motion_simulator import (
    INTENSITY_FEATURES, intensity_planes, move_pixels, move_pixels_locally, pixel_taps, repeat_border,
)
from recurrent_sim.models.registry import simulator_config

SIZE = 16 + 16  # the smallest frames the skip layers take are 16; 32 leaves room to move


def _simulator(**options):
    np.random.seed(0)
    config = simulator_config("motion", frame_shape=(SIZE, SIZE), n_actions=3, hidden_size=8, encoding_size=8,
                              conv_channels=(4, 4, 6, 6), options=options)
    sim = build_simulator(config)
    sim.set_mean_image(np.full((1, SIZE, SIZE), 30, np.uint8))
    return sim


def _shift_kernel(size, dy, dx):
    kernel = np.zeros((size, size), np.float32)
    kernel[size // 2 + dy, size // 2 + dx] = 1.0
    return kernel.reshape(-1)


@pytest.mark.parametrize("dy, dx", [(0, 0), (1, 0), (0, -2), (-1, 2)])
def test_one_hot_kernels_move_the_frame_by_their_offset_with_the_border_repeated(dy, dx):
    pixels = np.random.RandomState(0).rand(1, 1, 6, 7).astype(np.float32)
    taps = pixel_taps(pixels, 5)
    moved = move_pixels(taps, _shift_kernel(5, dy, dx)[None, None]).array[0, 0]
    padded = np.pad(pixels[0, 0], 2, mode="edge")
    expected = padded[2 + dy : 2 + dy + 6, 2 + dx : 2 + dx + 7]  # output (y, x) reads input (y + dy, x + dx)
    np.testing.assert_allclose(moved, expected, rtol=1e-6)
    per_pixel = np.broadcast_to(_shift_kernel(5, dy, dx)[None, :, None, None], (1, 25, 6, 7))
    np.testing.assert_allclose(move_pixels_locally(taps, per_pixel).array[0, 0], expected, rtol=1e-6)


def test_a_local_kernel_moves_each_pixel_its_own_way():
    pixels = np.random.RandomState(1).rand(1, 1, 6, 6).astype(np.float32)
    kernels = np.zeros((1, 9, 6, 6), np.float32)
    kernels[0, 3, :, :3] = 1  # the left half reads one pixel to the left ...
    kernels[0, 7, :, 3:] = 1  # ... the right half one pixel below
    moved = move_pixels_locally(pixel_taps(pixels, 3), kernels).array[0, 0]
    padded = np.pad(pixels[0, 0], 1, mode="edge")
    np.testing.assert_allclose(moved[:, :3], padded[1:7, 0:3], rtol=1e-6)
    np.testing.assert_allclose(moved[:, 3:], padded[2:8, 4:7], rtol=1e-6)


def test_repeat_border_repeats_the_outermost_pixels():
    pixels = np.arange(12, dtype=np.float32).reshape(1, 1, 3, 4)
    np.testing.assert_array_equal(repeat_border(pixels, 2).array[0, 0], np.pad(pixels[0, 0], 2, mode="edge"))


def _candidate_logit(sim, candidate):
    """The mask layer's output channel of ``candidate`` (0: the frame as it is, then the locally
    moved frame when there is one, then the globally moved copies, last the synthesized image)."""
    return (sim.kernel_size ** 2 if sim.local_kernel else 0) + candidate


@pytest.mark.parametrize("local_kernel", [True, False])
def test_sharp_masks_and_kernels_move_an_object_whole(local_kernel):
    """With the mask choosing one moved copy everywhere and its kernel a one-pixel shift, the
    prediction is the last frame moved by one pixel: no blur, no fading (the mean image is undone)."""
    sim = _simulator(local_kernel=local_kernel)
    sim.set_mean_image(np.random.RandomState(3).randint(0, 256, (4, SIZE, SIZE)).astype(np.uint8))
    taps = sim.kernel_size ** 2
    sim.kernel_fc.W.array[...] = 0
    bias = np.full((sim.n_kernels, taps), -50.0, np.float32)
    bias[1] = -50.0 + 100.0 * _shift_kernel(sim.kernel_size, 0, -1)  # copy 1 reads one pixel to the left
    sim.kernel_fc.b.array[...] = bias.reshape(-1)
    sim.mask_conv.W.array[...] = 0
    sim.mask_conv.b.array[...] = -50.0
    sim.mask_conv.b.array[_candidate_logit(sim, 1 + int(local_kernel) + 1)] = 50.0  # global copy 1
    frames = np.full((1, 1, SIZE, SIZE), 20, np.uint8)
    frames[0, 0, 10:14, 5:9] = 226
    with chainer.no_backprop_mode():
        prediction, _ = sim.predict(sim.normalize(frames), np.array([1], np.int32), sim.initial_state(1))
    expected = np.full((SIZE, SIZE), 20, np.uint8)
    expected[10:14, 6:10] = 226
    np.testing.assert_array_equal(sim.to_uint8(prediction.array)[0, 0], expected)


def test_an_untrained_simulator_mostly_repeats_the_last_frame():
    sim = _simulator()
    frames = np.random.RandomState(1).randint(0, 256, (2, 1, SIZE, SIZE)).astype(np.uint8)
    with chainer.no_backprop_mode():
        prediction, _ = sim.predict(sim.normalize(frames), np.array([0, 2], np.int32), sim.initial_state(2))
    error = np.abs(sim.to_uint8(prediction.array).astype(int) - frames).mean()
    assert error < 0.15 * np.abs(frames.astype(int) - frames.mean()).mean()


def test_the_state_carries_the_previous_frame_to_the_encoder():
    sim = _simulator()
    frames = np.random.RandomState(2).randint(0, 256, (2, 3, 1, SIZE, SIZE)).astype(np.uint8)
    inputs = sim.normalize(frames)
    actions = np.array([[0, 1, 2], [2, 1, 0]], np.int32)
    with chainer.no_backprop_mode():
        state = sim.warm_up(inputs[:, :2], actions[:, :2], sim.initial_state(2))
        np.testing.assert_array_equal(chainer.as_array(state[2]), inputs[:, 1])
        first, _ = sim.predict(inputs[:, 2], actions[:, 2], state)
        other = (state[0], state[1], inputs[:, 0])  # the same LSTM state, another previous frame
        second, after = sim.predict(inputs[:, 2], actions[:, 2], other)
    assert not np.allclose(first.array, second.array)
    np.testing.assert_array_equal(chainer.as_array(after[2]), inputs[:, 2])


def test_the_local_kernel_follows_the_motion_between_the_last_two_frames():
    """With the mask on the locally moved frame and the local kernel's logits read from the two
    frames, the prediction follows what the frames show: here, a pixel whose previous value was
    bright takes its value from the pixel below it."""
    sim = _simulator(kernels=1, kernel_size=3)
    sim.mask_conv.W.array[...] = 0
    sim.mask_conv.b.array[...] = -50.0
    sim.mask_conv.b.array[_candidate_logit(sim, 1)] = 50.0  # the locally moved frame everywhere
    previous_channel = sim.mask_conv.W.shape[1] - 2
    sim.mask_conv.W.array[4, previous_channel, 1, 1] = 200.0  # tap 4 (stay) unless ...
    sim.mask_conv.b.array[7] = 100.0  # ... tap 7 (the pixel below) wins where the previous pixel is dark
    frames = np.full((1, 1, SIZE, SIZE), 20, np.uint8)
    frames[0, 0, 8:12, 8:12] = 226
    previous = np.full((1, 1, SIZE, SIZE), 255, np.uint8)
    previous[0, 0, :, 16:] = 0
    state = sim.initial_state(1)[:2] + (sim.normalize(previous),)
    with chainer.no_backprop_mode():
        prediction, _ = sim.predict(sim.normalize(frames), np.array([0], np.int32), state)
    expected = frames[0, 0].copy()
    expected[:, 16:] = np.pad(frames[0, 0], 1, mode="edge")[2:, 17:-1]  # moved up where it was dark
    np.testing.assert_array_equal(sim.to_uint8(prediction.array)[0, 0], expected)


def test_without_previous_frame_the_state_is_the_lstm_state():
    sim = _simulator(previous_frame=False)
    assert len(sim.initial_state(2)) == 2
    assert sim.encoder_convs[0].W.shape[1] == 1
    assert _simulator().encoder_convs[0].W.shape[1] == 2


@pytest.mark.parametrize("options, message", [
    ({"kernels": 0}, "kernels must be a positive integer"),
    ({"kernel_size": 4}, "kernel_size must be an odd integer"),
    ({"kernel_size": True}, "kernel_size must be an odd integer"),
    ({"local_kernel": 1}, "local_kernel must be true or false"),
    ({"residual": False}, "unknown options of the motion architecture"),
    ({"intensity_bins": 1}, "intensity_bins must be 0"),
    ({"intensity_bins": -2}, "intensity_bins must be 0"),
    ({"intensity_bins": True}, "intensity_bins must be 0"),
    ({"plane_loss": 1}, "plane_loss must be 0"),
    ({"plane_loss": True}, "plane_loss must be 0"),
    ({"plane_loss": 2.5}, "plane_loss must be 0"),
])
def test_motion_options_are_checked(options, message):
    with pytest.raises(ValueError, match=message):
        _simulator(**options)


def test_intensity_planes_separate_nearby_gray_levels_that_one_plane_barely_tells_apart():
    # BlockWorld's background, square and ball (gray 20, 200, 226) and white, in [0, 1]
    levels = np.array([20, 200, 226, 255], np.float32) / 255
    planes = intensity_planes(chainer.Variable(levels.reshape(1, 1, 1, 4)), 16).array[0, :, 0]  # (16, 4)
    np.testing.assert_allclose(planes.sum(axis=0), 1, atol=1e-6)
    np.testing.assert_allclose(planes[:, 3], np.eye(16)[15], atol=1e-6)
    np.testing.assert_allclose(planes[[11, 12], 1], [0.2353, 0.7647], atol=1e-3)  # 200 / 255 * 15 = 11.76
    square, ball, background = planes[:, 1], planes[:, 2], planes[:, 0]
    assert np.abs(square - ball).sum() == pytest.approx(2.0)  # no plane in common: as far apart as can be
    assert np.abs(square - background).sum() == pytest.approx(2.0)
    assert abs(levels[2] - levels[1]) < 0.15 * abs(levels[1] - levels[0])  # in one gray plane: an eighth


def test_intensity_bins_give_the_masks_a_mix_of_the_planes_of_both_frames_and_default_to_gray():
    gray, binned = _simulator(), _simulator(intensity_bins=8)
    assert binned.intensity_conv.W.shape[:2] == (INTENSITY_FEATURES, 2 * 8) and not hasattr(gray, "intensity_conv")
    assert gray.motion_conv.W.shape[1] == 2 and binned.motion_conv.W.shape[1] == INTENSITY_FEATURES
    assert binned.mask_conv.W.shape[1] == gray.mask_conv.W.shape[1] + INTENSITY_FEATURES - 2
    frames = np.random.RandomState(2).randint(0, 256, (2, 1, SIZE, SIZE)).astype(np.uint8)
    state = binned.initial_state(2)
    with chainer.no_backprop_mode():
        for _ in range(2):
            prediction, state = binned.predict(binned.normalize(frames), np.array([0, 1], np.int32), state)
    assert prediction.shape == (2, 1, SIZE, SIZE) and np.isfinite(prediction.array).all()


@pytest.mark.parametrize("local_kernel", [True, False])
def test_the_mixed_planes_are_the_prediction_itself_in_planes(local_kernel):
    """The planes plane_loss compares: each pixel's sum to 1, and their bin centres weighed by them give
    the predicted pixel (the masks and kernels mix planes as they mix pixels)."""
    sim = _simulator(plane_loss=16, local_kernel=local_kernel)
    sim.mask_conv.b.array[...] = np.random.RandomState(4).randn(*sim.mask_conv.b.shape)  # blurred masks
    frames = np.random.RandomState(5).randint(0, 256, (2, 1, SIZE, SIZE)).astype(np.uint8)
    prediction, _ = sim.predict(sim.normalize(frames), np.array([0, 1], np.int32), sim.initial_state(2))
    planes = prediction.mixed_planes().array  # (2, 16, SIZE, SIZE)
    assert planes.shape == (2, 16, SIZE, SIZE) and planes.min() >= -1e-6
    np.testing.assert_allclose(planes.sum(axis=1), 1, atol=1e-5)
    centres = np.arange(16, dtype=np.float32).reshape(1, 16, 1, 1) / 15
    np.testing.assert_allclose((planes * centres).sum(axis=1, keepdims=True), sim.denormalize(prediction.array),
                               atol=1e-5)


def _keep_the_last_frame(sim):
    """Masks that choose the last frame as it is everywhere."""
    sim.mask_conv.W.array[...] = 0
    sim.mask_conv.b.array[...] = -50.0
    sim.mask_conv.b.array[_candidate_logit(sim, 0)] = 50.0


def test_the_plane_loss_counts_a_misplaced_ball_on_the_square_as_much_as_on_the_background():
    """BlockWorld's ball (gray 226) predicted 4 pixels off: over the square (200) the squared error of the
    pixels barely sees it, the plane loss sees it as on the background (20); without plane_loss the
    simulator's frame error is the squared error."""
    sim, plain = _simulator(plane_loss=16), _simulator()
    for s in (sim, plain):
        _keep_the_last_frame(s)
    errors = {}
    for place, level in (("square", 200), ("background", 20)):
        last = np.full((1, 1, SIZE, SIZE), 20, np.uint8)
        last[0, 0, 8:20, 8:20] = level
        target = last.copy()
        last[0, 0, 10:14, 10:14] = 226
        target[0, 0, 10:14, 14:18] = 226
        with chainer.no_backprop_mode():
            error = {}
            for name, s in (("planes", sim), ("pixels", plain)):
                prediction, _ = s.predict(s.normalize(last), np.array([0], np.int32), s.initial_state(1))
                error[name] = float(s.frame_error(prediction, s.normalize(target)).array)
        errors[place] = error
        squared = ((last.astype(np.float64) - target) / 255) ** 2
        assert error["pixels"] == pytest.approx(squared.sum(), rel=1e-4)
    assert errors["square"]["pixels"] < 0.02 * errors["background"]["pixels"]
    assert errors["square"]["planes"] == pytest.approx(errors["background"]["planes"], rel=0.1)
    assert 32 < errors["square"]["planes"] < 32 * 2  # 32 pixels wrong, each with no plane in common: 1 to 2


def test_the_plane_loss_trains_the_masks_and_kernels_and_its_reference_agrees():
    from recurrent_sim.training.reference_loss import reference_sequence_loss
    from recurrent_sim.training.sequence_loss import SequenceSchedule, sequence_loss

    sim = _simulator(plane_loss=8)
    frames = np.random.RandomState(6).randint(0, 256, (2, 6, SIZE, SIZE)).astype(np.uint8)
    actions = np.random.RandomState(7).randint(0, 3, (2, 5)).astype(np.int32)
    split = SequenceSchedule(2, 2, 1)
    result = sequence_loss(sim, frames, actions, split)
    reference = reference_sequence_loss(sim, frames, actions, split)
    assert float(result.loss.array) == pytest.approx(float(reference.loss.array), rel=1e-5)
    assert 0 < float(result.loss.array) <= 2
    sim.cleargrads()
    result.loss.backward()
    for link in (sim.mask_conv, sim.kernel_fc):
        assert np.abs(link.W.grad).sum() > 0
    frame = sim.normalize(frames[:, 0])[:, None]
    with pytest.raises(ValueError, match="plane_loss measures the predictions"):
        sim.frame_error(chainer.Variable(frame), frame)
