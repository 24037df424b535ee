"""What every simulator architecture is: the interface the trainers, environments and evaluation use.

An architecture is a ``chainer.Chain`` subclass of :class:`SimulatorBase`
that implements the four functional steps :meth:`~SimulatorBase.initial_state`,
:meth:`~SimulatorBase.encode`, :meth:`~SimulatorBase.transition` and
:meth:`~SimulatorBase.decode`; this class gives it the pixel convention
(mean image, :meth:`~SimulatorBase.normalize` /
:meth:`~SimulatorBase.denormalize`), the full step
:meth:`~SimulatorBase.predict`, the batched sequence steps
:meth:`~SimulatorBase.warm_up` and :meth:`~SimulatorBase.observe` that the
losses and the batched environment use, and the stateful use of one game.
An architecture whose decoder needs more than the LSTM output (for example
the input frame's feature maps) overrides :meth:`~SimulatorBase.predict` and
:meth:`~SimulatorBase.observe` instead of implementing ``decode``. Register it
by name with :func:`recurrent_sim.models.registry.register_architecture`.

Pixel convention used throughout the package: frames are stored as uint8
(height, width) gray images, or (3, height, width) RGB images
(``config.image_shape``); the network sees ``frame / 255 - mean_image``
(float32) as (channels, height, width) maps (:meth:`SimulatorBase.network_frames`),
and predicts frames in that same normalised space. The mean image, of the
stored frame's shape, float32 in [0, 1], is a persistent value of the
model, so it is saved and loaded with the weights.
"""
import chainer
import chainer.functions as F
import numpy as np

from recurrent_sim.models.config import SimulatorConfig
from recurrent_sim.models.heads import StateHeads


def detach(value):
    """A simulator's state (tuple of arrays or Variables) or one Variable, as arrays cut from the graph
    (None stays None): what truncated backpropagation and inference carry from one step to the next."""
    if value is None:
        return None
    if isinstance(value, tuple):
        return tuple(chainer.as_array(v) for v in value)
    return chainer.as_array(value)


class SimulatorBase(chainer.Chain):
    """Action-conditioned recurrent frame predictor built from ``config``.

    Functional use (explicit state, what training uses)::

        state = sim.initial_state(batch)
        prediction, state = sim.predict(frames, actions, state)

    Stateful use (one game, what the simulated environment uses)::

        sim.reset_state(batch)
        prediction = sim.step(frames, actions)
        saved = sim.get_state(); ...; sim.set_state(saved)

    Shapes: ``frames`` and ``prediction`` are (batch, channels, height, width)
    float32 normalised frames (channels 1 gray, 3 RGB); ``actions`` is (batch,) int32. A subclass
    creates its links inside ``self.init_scope()`` after calling
    ``super().__init__(config)``.
    """

    def __init__(self, config: SimulatorConfig):
        super().__init__()
        self.config = config
        self.add_persistent("mean_image", np.zeros(config.image_shape, dtype=np.float32))
        self.add_persistent("mean_image_ready", np.zeros((), dtype=np.bool_))
        self.state = None
        if config.heads:
            with self.init_scope():
                self.state_heads = StateHeads(config.hidden_size,
                                              frame_channels=config.channels if config.head_input == "frame" else 0)

    # ----- normalisation -------------------------------------------------
    def set_mean_image(self, frames):
        """Set the mean image from (n,) + ``config.image_shape`` uint8 frames."""
        frames = np.asarray(chainer.backends.cuda.to_cpu(frames))
        shape = tuple(self.config.image_shape)
        if frames.shape[1:] != shape or len(frames) == 0:
            raise ValueError(f"mean image needs (n, {', '.join(map(str, shape))}) frames, got {frames.shape}")
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

    def network_frames(self, frames):
        """uint8 frames (..., *config.image_shape) -> float32 normalised (..., channels, height, width):
        what the network reads (a gray frame gains its channel axis)."""
        frames = self.normalize(frames)
        if self.config.channels == 1:
            frames = frames.reshape(frames.shape[:-2] + (1,) + frames.shape[-2:])
        return frames

    def to_images(self, frames):
        """Normalised (N, channels, H, W) predictions -> (N,) + ``config.image_shape`` uint8 frames."""
        frames = chainer.as_array(frames)
        return self.to_uint8(frames.reshape((frames.shape[0],) + tuple(self.config.image_shape)))

    def denormalize(self, frames):
        """Normalised float frames (..., height, width) -> float32 in [0, 1] (clipped)."""
        xp = self.xp
        return xp.clip(xp.asarray(frames) + self.mean_image, 0.0, 1.0)

    def to_uint8(self, frames):
        """Normalised float frames (..., height, width) -> uint8 frames of the same shape."""
        xp = self.xp
        return (self.denormalize(frames) * 255.0 + 0.5).astype(xp.uint8)

    def clip_to_pixels(self, frames):
        """Clip normalised (N, channels, H, W) frames to the valid range [-mean, 1 - mean].

        Inside the range the gradient passes unchanged; outside it is zero.
        Keeps predictions that are fed back as inputs images.
        """
        low = self.xp.broadcast_to(-self.mean_image, frames.shape)
        high = self.xp.broadcast_to(1.0 - self.mean_image, frames.shape)
        return F.minimum(F.maximum(frames, low), high)

    def frame_error(self, predictions, targets):
        """The frame loss's sum over (N, C, H, W) normalised ``predictions`` of this simulator and their
        normalised ``targets``: the squared error of the pixels ([0, 1]); an architecture may measure
        its own predictions otherwise (the motion architecture's ``plane_loss``)."""
        return F.sum(F.squared_difference(predictions, targets))

    # ----- functional steps (what an architecture implements) --------------
    def initial_state(self, batch_size):
        """The recurrent state of ``batch_size`` new games: a tuple of arrays, batch first."""
        raise NotImplementedError

    def encode(self, frames):
        """(batch, 1, H, W) normalised frames -> (batch, code) Variable."""
        raise NotImplementedError

    def transition(self, encoding, actions, state):
        """(batch, code), (batch,) int32 actions, state -> (hidden (batch, features), new state).

        The new state's arrays may be Variables (training backpropagates through them).
        """
        raise NotImplementedError

    def decode(self, hidden):
        """(batch, features) -> (batch, 1, H, W) normalised frames."""
        raise NotImplementedError

    def predict(self, frames, actions, state):
        """One full step: predicted next frames and the new state."""
        hidden, state = self.transition(self.encode(frames), actions, state)
        return self.decode(hidden), state

    # ----- batched sequence steps ------------------------------------------
    def warm_up(self, frames, actions, state):
        """Consume (B, T, 1, H, W) real frames and (B, T) int32 actions; return the new state.

        Nothing is decoded: the encoder runs once over all T * B frames,
        then the transition T times.
        """
        batch, steps = frames.shape[:2]
        codes = self.encode(F.reshape(frames, (batch * steps,) + tuple(frames.shape[2:])))
        codes = F.reshape(codes, (batch, steps, -1))
        for t in range(steps):
            _, state = self.transition(codes[:, t], actions[:, t], state)
        return state

    def observe(self, frames, actions, state):
        """Observation-dependent steps on (B, T, 1, H, W) real frames and (B, T) int32 actions.

        The encoder runs once over all frames and the decoder once over all
        outputs. Returns the predictions of frames 1..T as one
        (T * B, 1, H, W) Variable, time-major (rows t * B .. (t + 1) * B - 1
        are step t), and the new state.
        """
        predictions, _, state = self.observe_steps(frames, actions, state)
        return predictions, state

    def observe_steps(self, frames, actions, state):
        """:meth:`observe` that also returns the transition outputs: ``(predictions, hiddens, state)``,
        hiddens (T * B, features) time-major, what the heads read at each step."""
        batch, steps = frames.shape[:2]
        codes = self.encode(F.reshape(frames, (batch * steps,) + tuple(frames.shape[2:])))
        codes = F.reshape(codes, (batch, steps, -1))
        hiddens = []
        for t in range(steps):
            hidden, state = self.transition(codes[:, t], actions[:, t], state)
            hiddens.append(hidden)
        hiddens = F.concat(hiddens, axis=0)
        return self.decode(hiddens), hiddens, state

    # ----- reward, episode-end and self-error heads -------------------------
    @property
    def has_heads(self) -> bool:
        """True when the simulator predicts reward, episode end and its own error (``config.heads``)."""
        return bool(self.config.heads)

    def head_features(self, state):
        """(batch, hidden_size) features of a state that the heads read: the LSTM output ``h``.

        An architecture whose state is not ``(c, h)`` overrides it.
        """
        return state[1]

    @property
    def heads_read_frames(self) -> bool:
        """True when the heads also read the frame just predicted (``config.head_input == "frame"``)."""
        return self.has_heads and self.config.head_input == "frame"

    def heads(self, state, frames=None):
        """Reward, episode-end and error predictions of the transition that produced ``state``.

        Args:
            state: a state returned by :meth:`predict`, :meth:`observe` or
                :meth:`advance` (the step that predicted frame t + 1 from
                frame t and action t).
            frames: (B, C, H, W) normalised frames that step predicted;
                needed when :attr:`heads_read_frames`, ignored otherwise.
        Returns:
            None without heads, else a :class:`~recurrent_sim.models.heads.HeadOutputs`
            of Variables: reward_logits (B, 3), done_logit (B,), error_estimate (B,).
        """
        if not self.has_heads:
            return None
        return self.state_heads.outputs(self.head_features(state), frames if self.heads_read_frames else None)

    def heads_of_hidden(self, hiddens, frames=None):
        """:class:`~recurrent_sim.models.heads.HeadOutputs` of (N, features) transition outputs
        (what :meth:`observe_steps` returns; the ``h`` of the state) and the (N, C, H, W)
        frames those steps predicted (read when :attr:`heads_read_frames`). Needs heads."""
        return self.state_heads.outputs(hiddens, frames if self.heads_read_frames else None)

    # ----- action-only steps (prediction-independent architectures) ---------
    #: True when, after the warm-up on real frames, the state advances from
    #: the actions alone (:meth:`advance`), so frames are decoded only when
    #: asked; environments and evaluation then step that way.
    prediction_independent = False

    def advance(self, actions, state):
        """Action-only step ``s_t = f(s_{t-1}, a_{t-1})``: (batch,) int32 actions, state -> (hidden, new state).

        Nothing is encoded or decoded; ``decode(hidden)`` gives the predicted
        frames when they are wanted. Only prediction-independent
        architectures implement it.
        """
        raise NotImplementedError(
            f"architecture {self.config.architecture!r} needs a frame at every step (it is not prediction-independent)"
        )

    # ----- per-instance state ---------------------------------------------
    def reset_state(self, batch_size=1):
        """Start new games: zero state for ``batch_size`` games."""
        self.state = self.initial_state(batch_size)

    def get_state(self):
        """The current ``(c, h)`` state (None before :meth:`reset_state`)."""
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
