"""What the play page says about the game: what is on the screen, what scores, which keys do what.

:func:`legend` describes the game (the synthetic BlockWorld games by
their rules, others by their actions), :func:`key_help` the keys, from
the game's action names (``NOOP``, ``UP``, ``FIRE`` ...) so that no key is
promised that the game lacks.
"""

BLOCKWORLD_PLAYER = "You are the large gray square; the small bright square is the ball, which bounces on its own."
BLOCKWORLD_SCORES = {
    "BlockWorld-v0": "+1 for every step your square touches the ball; an episode lasts 100 steps.",
    "BlockWorld-v1": "+1 for every step your square touches the ball; when the ball reaches the bottom wall "
                     "untouched: -1 and the episode ends (else it lasts 100 steps).",
}
DIRECTION_KEYS = {"UP": "Up", "DOWN": "Down", "LEFT": "Left", "RIGHT": "Right"}


def legend(env_id, action_names) -> str:
    """One or two sentences on the screen and the score of ``env_id``.

    Args:
        env_id: the gym id of the real game (``BlockWorld-v1``, ``Breakout-v0`` ...), or None.
        action_names: the game's action names in order.
    """
    if env_id in BLOCKWORLD_SCORES:
        return f"{BLOCKWORLD_PLAYER} {BLOCKWORLD_SCORES[env_id]}"
    game = env_id or "the game"
    return (f"You play {game} with its {len(action_names)} actions ({', '.join(action_names)}); "
            "the score is the game's reward summed over the episode.")


def key_help(action_names) -> str:
    """The keys of the page that this game has actions for, in one sentence."""
    names = set(action_names)
    arrows = [key for name, key in DIRECTION_KEYS.items() if any(name in n for n in names)]
    parts = []
    if arrows:
        parts.append("the arrow keys move" if len(arrows) == 4 else f"the arrow keys {'/'.join(arrows)} move")
    if any("FIRE" in name for name in names):
        parts.append("Space fires")
    held = " and ".join(parts)
    keys = f"{held[0].upper()}{held[1:]} (held while playing; one step per press while paused); " if held else ""
    return (f"{keys}0-{min(len(action_names), 10) - 1} pick an action by number. Drag the slider to look back at "
            "the real game, then branch the simulator from there (B).")
