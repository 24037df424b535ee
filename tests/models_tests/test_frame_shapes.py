"""Frames other than square gray: the paper's 210x160 geometry, RGB channels, old configurations."""
import chainer
import numpy as np
import pytest

from recurrent_sim.models import SimulatorConfig, build_simulator, frame_settings, simulator_config
from recurrent_sim.models.config import FULL_FRAME_PADS
from recurrent_sim.models.footprint import simulator_parameter_count
from recurrent_sim.play.protocol import decode_frame, encode_frame
from recurrent_sim.utils.images import luminance, to_rgb


def test_paper_geometry_at_210x160():
    settings = frame_settings("paper", (3, 210, 160))
    assert settings == dict(frame_shape=(210, 160), channels=3, conv_pads=FULL_FRAME_PADS)
    config = simulator_config("paper", **settings, n_actions=4, hidden_size=16, encoding_size=16)
    assert config.feature_shapes() == [(210, 160), (103, 78), (50, 38), (24, 18), (11, 8)]
    sim = build_simulator(config)
    assert sim.encoder.fc.W.shape == (16, 2816)  # 32 x 11 x 8 features, the paper's
    assert sim.encoder.convs[0].W.shape == (64, 3, 8, 8) and sim.decoder.deconvs[-1].W.shape == (64, 3, 8, 8)
    assert simulator_parameter_count(config) == sum(p.size for p in sim.params())
    with chainer.no_backprop_mode():
        codes = sim.encode(np.zeros((2, 3, 210, 160), np.float32))
        frames = sim.decode(np.zeros((2, 16), np.float32))
    assert codes.shape == (2, 16) and frames.shape == (2, 3, 210, 160)
    # gray frames at full size: one channel, same layers; other sizes and architectures keep their defaults
    assert frame_settings("paper", (210, 160))["channels"] == 1
    assert "conv_pads" not in frame_settings("paper", (84, 84)) and "conv_pads" not in frame_settings("skip", (3, 210, 160))


@pytest.mark.parametrize("architecture", ["paper", "skip"])
def test_rgb_frames_through_both_convolution_paths(architecture):
    config = simulator_config(architecture, frame_shape=(42, 32), channels=3, n_actions=3, hidden_size=8,
                              encoding_size=8)
    sim = build_simulator(config)
    rng = np.random.default_rng(0)
    sim.set_mean_image(rng.integers(0, 256, (4, 3, 42, 32)).astype(np.uint8))
    frames = sim.network_frames(rng.integers(0, 256, (2, 3, 42, 32)).astype(np.uint8))
    assert frames.shape == (2, 3, 42, 32)
    actions = np.array([0, 2], np.int32)
    outputs = []
    for fast in (True, False):
        with chainer.using_config("fast_cpu_conv", fast), chainer.no_backprop_mode():
            outputs.append(sim.predict(frames, actions, sim.initial_state(2))[0].array)
    assert outputs[0].shape == (2, 3, 42, 32)
    np.testing.assert_allclose(outputs[0], outputs[1], rtol=1e-4, atol=1e-5)
    assert sim.to_images(outputs[0]).shape == (2, 3, 42, 32)


def test_gray_frames_and_old_configurations_unchanged():
    old = SimulatorConfig().to_dict()
    del old["channels"]  # saved before colour existed
    config = SimulatorConfig.from_dict(old)
    assert config.channels == 1 and config.image_shape == (84, 84) and config.conv_pads == (3, 2, 2, 1)
    sim = build_simulator(simulator_config("paper", frame_shape=(32, 32), n_actions=3, hidden_size=8))
    assert sim.network_frames(np.zeros((2, 5, 32, 32), np.uint8)).shape == (2, 5, 1, 32, 32)
    with pytest.raises(ValueError, match="channels must be 1 .gray. or 3 .RGB."):
        SimulatorConfig(channels=2)
    with pytest.raises(ValueError, match="motion architecture moves the pixels of gray frames"):
        build_simulator(simulator_config("motion", frame_shape=(32, 32), channels=3, hidden_size=8))


def test_rgb_pictures_and_play_frames():
    frame = np.zeros((3, 4, 5), np.uint8)
    frame[0], frame[1], frame[2] = 200, 100, 0
    assert to_rgb(frame).shape == (4, 5, 3) and tuple(to_rgb(frame)[1, 2]) == (200, 100, 0)
    assert luminance(frame[None]).shape == (1, 4, 5) and luminance(frame)[0, 0] == round(0.299 * 200 + 0.587 * 100)
    np.testing.assert_array_equal(decode_frame(encode_frame(frame), frame.shape), frame)
    gray = np.arange(20, dtype=np.uint8).reshape(4, 5)
    np.testing.assert_array_equal(decode_frame(encode_frame(gray), gray.shape), gray)
