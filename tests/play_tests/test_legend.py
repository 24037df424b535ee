"""What the play page says about the game and its keys."""
from recurrent_sim.play.legend import key_help, legend

BLOCKWORLD_ACTIONS = ["NOOP", "UP", "DOWN", "LEFT", "RIGHT"]
BREAKOUT_ACTIONS = ["NOOP", "FIRE", "RIGHT", "LEFT"]


def test_blockworld_legend_says_which_square_is_yours_and_what_scores():
    text = legend("BlockWorld-v1", BLOCKWORLD_ACTIONS)
    assert "You are the large gray square" in text and "the ball" in text
    assert "+1 for every step your square touches the ball" in text
    assert "bottom wall untouched: -1 and the episode ends" in text
    assert "bottom wall" not in legend("BlockWorld-v0", BLOCKWORLD_ACTIONS)


def test_other_games_are_told_by_their_actions():
    text = legend("Breakout-v0", BREAKOUT_ACTIONS)
    assert text.startswith("You play Breakout-v0 with its 4 actions (NOOP, FIRE, RIGHT, LEFT)")
    assert "reward summed over the episode" in text


def test_the_keys_offered_are_those_the_game_has():
    blockworld = key_help(BLOCKWORLD_ACTIONS)
    assert blockworld.startswith("The arrow keys move (held while playing") and "Space" not in blockworld
    assert "0-4 pick an action by number" in blockworld
    assert key_help(BREAKOUT_ACTIONS).startswith("The arrow keys Left/Right move and Space fires")
    assert key_help(["NOOP", "FIRE"]).startswith("Space fires (held")
    assert key_help(["NOOP", "UPRIGHT", "DOWNLEFT"]).startswith("The arrow keys move")
    assert "0-9 pick" in key_help([f"A{k}" for k in range(18)])
    assert key_help(["A", "B"]).startswith("0-1 pick an action")
