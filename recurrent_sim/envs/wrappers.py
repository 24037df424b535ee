"""Wrappers of a game for chainerrl's training loops (``train_agent``, ``train_agent_async``).

The loop sees the outermost wrapper: :class:`AgentReward` gives the agent
the reward it learns from, while an inner :class:`EpisodeReturns` (or
:class:`TransitionRecorder`) still sees the game's own rewards: the returns
reported, and the transitions the simulator learns from.
"""
import gym


class AgentReward(gym.RewardWrapper):
    """The reward the agent learns from: ``reward_filter(game reward)``
    (a :class:`~recurrent_sim.agents.episode_loops.RewardFilter`)."""

    def __init__(self, env, reward_filter):
        super().__init__(env)
        self.reward_filter = reward_filter

    def reward(self, reward):
        return self.reward_filter(reward)


class EpisodeReturns(gym.Wrapper):
    """Keeps the return (sum of the game's rewards) of every episode that ends.

    Attributes:
        returns: list of float, one per finished episode (an episode cut
            short by a reset before its end is not counted).
    """

    def __init__(self, env):
        super().__init__(env)
        self.returns = []
        self._episode_return = 0.0

    def step(self, action):
        obs, reward, done, info = self.env.step(action)
        self._episode_return += float(reward)
        if done:
            self.returns.append(self._episode_return)
            self._episode_return = 0.0
        return obs, reward, done, info

    def reset(self, **kwargs):
        self._episode_return = 0.0
        return self.env.reset(**kwargs)


class TransitionRecorder(EpisodeReturns):
    """Hands every transition of a :class:`~recurrent_sim.envs.PreprocessedEnv` to ``recorders``.

    Each step calls ``recorder.observe(frame, action, reward, episode_end)``
    with the (H, W) uint8 frame the action was taken on (``env.last_frame``
    before the step), the int action, the game's float reward and whether
    the episode ended, e.g. on a
    :class:`~recurrent_sim.training.SimulatorTrainer`. Subclasses change
    :meth:`record`.
    """

    def __init__(self, env, recorders=()):
        super().__init__(env)
        self.recorders = list(recorders)

    def step(self, action):
        frame = self.env.last_frame
        obs, reward, done, info = super().step(action)
        self.record(frame, int(action), float(reward), bool(done))
        return obs, reward, done, info

    def record(self, frame, action, reward, episode_end):
        """One transition: (H, W) uint8 frame, int action, float reward, bool episode end."""
        for recorder in self.recorders:
            recorder.observe(frame, action, reward, episode_end)
