"""What every simulator architecture shares: pixels, mean image, state handling.

Pixel convention used throughout the package: frames are stored as uint8
(height, width) gray images; the network sees ``frame / 255 - mean_image``
(float32), and predicts frames in that same normalised space. The mean
image, (height, width) float32 in [0, 1], is a persistent value of the
model, so it is saved and loaded with the weights.

An architecture subclasses :class:`SimulatorBase` and implements
``initial_state``, ``warm_up``, ``observe`` and ``predict``; the training
losses, the batched simulated environment, evaluation and the demo use only
these (see ``docs/architectures.md``).
"""
import chainer
import chainer.functions as F
import numpy as np


class SimulatorBase(chainer.Chain):
    """Base of the simulator architectures.

    Functional use (explicit state, what training uses)::

        state = sim.initial_state(batch)
        state = sim.warm_up(frames, actions, state)          # no decoding
        predictions, state = sim.observe(frames, actions, state)
        prediction, state = sim.predict(frame, action, state)

    Stateful use (one game, what the simulated environment uses)::

        sim.reset_state(batch)
        prediction = sim.step(frames, actions)

    Shapes: a single step's ``frames`` and ``prediction`` are (batch, 1, H,
    W) float32 normalised frames and ``actions`` (batch,) int32; sequences
    are (batch, T, 1, H, W) frames and (batch, T) actions.
    """

    def __init__(self, config):
        super().__init__()
        self.config = config
        self.add_persistent("mean_image", np.zeros(config.frame_shape, dtype=np.float32))
        self.add_persistent("mean_image_ready", np.zeros((), dtype=np.bool_))
        self.state = None

    # ----- normalisation -------------------------------------------------
    def set_mean_image(self, frames):
        """Set the mean image from (n, height, width) uint8 frames."""
        frames = np.asarray(chainer.backends.cuda.to_cpu(frames))
        if frames.ndim != 3 or frames.shape[1:] != self.config.frame_shape or len(frames) == 0:
            raise ValueError(
                f"mean image needs (n, {self.config.frame_shape[0]}, "
                f"{self.config.frame_shape[1]}) frames, got {frames.shape}"
            )
        mean = frames.astype(np.float64).mean(axis=0) / 255.0
        self.mean_image = self.xp.asarray(mean.astype(np.float32))
        self.mean_image_ready = self.xp.asarray(True)

    @property
    def has_mean_image(self) -> bool:
        return bool(self.mean_image_ready)

    def normalize(self, frames):
        """uint8 frames (..., height, width) -> float32 ``frames / 255 - mean``."""
        xp = self.xp
        frames = xp.asarray(frames)
        return frames.astype(np.float32) * np.float32(1.0 / 255.0) - self.mean_image

    def denormalize(self, frames):
        """Normalised float frames (..., height, width) -> float32 in [0, 1] (clipped)."""
        xp = self.xp
        return xp.clip(xp.asarray(frames) + self.mean_image, 0.0, 1.0)

    def to_uint8(self, frames):
        """Normalised float frames (..., height, width) -> uint8 gray frames."""
        xp = self.xp
        return (self.denormalize(frames) * 255.0 + 0.5).astype(xp.uint8)

    def clip_to_pixels(self, frames):
        """Clip normalised (N, 1, H, W) frames to the valid range [-mean, 1 - mean].

        Inside the range the gradient passes unchanged; outside it is zero.
        """
        low = self.xp.broadcast_to(-self.mean_image, frames.shape)
        high = self.xp.broadcast_to(1.0 - self.mean_image, frames.shape)
        return F.minimum(F.maximum(frames, low), high)

    # ----- architecture interface ------------------------------------------
    def initial_state(self, batch_size):
        """Zero recurrent state for ``batch_size`` games (a tuple of arrays)."""
        raise NotImplementedError

    def predict(self, frames, actions, state):
        """One step: (B, 1, H, W) frames, (B,) actions, state -> (prediction, new state)."""
        raise NotImplementedError

    def warm_up(self, frames, actions, state):
        """Consume (B, T, 1, H, W) real frames and (B, T) actions; return the state.

        Nothing is decoded. This default steps :meth:`predict`; architectures
        override it with a cheaper batched version.
        """
        for t in range(frames.shape[1]):
            _, state = self.predict(frames[:, t], actions[:, t], state)
        return state

    def observe(self, frames, actions, state):
        """Observation-dependent steps on (B, T, 1, H, W) real frames and (B, T) actions.

        Returns the predictions of frames 1..T as one (T * B, 1, H, W)
        array, time-major, and the new state. This default steps
        :meth:`predict`.
        """
        predictions = []
        for t in range(frames.shape[1]):
            prediction, state = self.predict(frames[:, t], actions[:, t], state)
            predictions.append(prediction)
        return F.concat(predictions, axis=0), state

    # ----- per-instance state ---------------------------------------------
    def reset_state(self, batch_size=1):
        """Start new games: zero state for ``batch_size`` games."""
        self.state = self.initial_state(batch_size)

    def get_state(self):
        """The current state (None before :meth:`reset_state`)."""
        return self.state

    def set_state(self, state):
        """Replace the current state, e.g. with one saved by :meth:`get_state`."""
        self.state = state

    def step(self, frames, actions):
        """Predict the next frames from the current state and advance it."""
        if self.state is None:
            self.reset_state(len(frames))
        prediction, self.state = self.predict(frames, actions, self.state)
        return prediction
