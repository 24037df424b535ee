"""Transitions of a game process: chunks, an episode end on every reset, nothing lost on close."""
import numpy as np

from recurrent_sim.agents.game_processes import AgentReward, TransitionSender, _sender
from recurrent_sim.agents.episode_loops import RewardFilter


class ListQueue(list):
    put = list.append


def sent(queue):
    return [(game, hash(frame.tobytes()), action, end) for game, frames, actions, rewards, ends in queue
            for frame, action, end in zip(frames, actions, ends)]


def test_transitions_are_sent_in_order_with_every_episode_end(game):
    queue = ListQueue()
    env = AgentReward(TransitionSender(game, 1, queue, chunk=4), RewardFilter(scale=0.5))
    assert _sender(env).game == 1
    frames = []
    env.reset()
    for t in range(10):
        frames.append(hash(game.last_frame.tobytes()))
        env.step(t % 5)
    assert len(sent(queue)) == 8  # two chunks of 4 sent, the newest held back
    env.reset()  # a reset in mid-episode (a step limit): the held transition ends the episode
    assert [end for *_, end in sent(queue)] == [False] * 9 + [True]
    assert [frame for _, frame, _, _ in sent(queue)] == frames and len(set(frames)) > 1
    assert [action for _, _, action, _ in sent(queue)] == [t % 5 for t in range(10)]
    env.step(0)
    env.close()  # flushes
    assert len(sent(queue)) == 11 and all(g == 1 for g, *_ in sent(queue))
    assert queue[0][1].dtype == np.uint8 and queue[0][2].dtype == np.int32
