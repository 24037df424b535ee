"""``recurrent-sim play``: play a saved simulator in the browser, the real game beside it.

Serves a local web page: you play the simulated game with the keyboard at
the game's speed, the real game runs beside it on the same actions, and a
curve shows how far the two drift apart step by step. Pause, step, rewind
the real game to any earlier step and branch the simulator from there, let
the agent play, save the session as a GIF (in ``--out``).
"""
import logging
import sys

from recurrent_sim.commands.common import add_simulator_source, simulator_path
from recurrent_sim.commands.flags import ALLOW_HOST, FPS, HOST, LOAD, OUT, PORT, SCALE, WARMUP
from recurrent_sim.commands.validation import load_simulator, one_line_errors
from recurrent_sim.envs import ENV, FRAME_BUFFER_LENGTH
from recurrent_sim.utils.device import GPU
from recurrent_sim.utils.errors import UserError
from recurrent_sim.utils.settings import SEED

logger = logging.getLogger(__name__)


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "play",
        help="play a saved simulator in a web page, the real game beside it",
        description=__doc__.split("\n\n")[1].replace("\n", " ").replace("``", ""),
    )
    one_line_errors(parser)
    add_simulator_source(parser, "the one to play")
    ENV.add_to(parser, default=None, default_text=f"the checkpoint's, else {ENV.default}")
    HOST.add_to(parser)
    ALLOW_HOST.add_to(parser, action="append", default=[], default_text="none")
    PORT.add_to(parser)
    FPS.add_to(parser, default=15.0, help="steps a second while playing")
    SCALE.add_to(parser, default_text="about 320 pixels a side")
    WARMUP.add_to(parser, help="real frames the simulator is warmed up on at each start and branch")
    LOAD.add_to(parser, "--agent", dest="agent", help="agent folder (saved by the training script) that plays when "
                "you hand over", default_text="the non-learning agent with random initial weights")
    OUT.add_to(parser, default="play", help="folder the saved GIFs go to, created when needed")
    SEED.add_to(parser, help="seed of the real game's episodes and of the agent")
    FRAME_BUFFER_LENGTH.add_to(parser)
    GPU.add_to(parser)
    parser.set_defaults(func=run)
    return parser


def check_arguments(args):
    """Raise UserError for host names no session can use (the ranges of the flags are their settings')."""
    from recurrent_sim.play.http_guard import host_name

    for flag, values in (("--host", [args.host]), ("--allow-host", args.allow_host)):
        for value in values:
            try:
                host_name(value)
            except ValueError as e:
                raise UserError(f"{flag}: {e}") from None


def network_warning(args, names) -> str:
    """The warning printed when the server listens on more than this machine's loopback."""
    from recurrent_sim.play.http_guard import is_wildcard

    where = (f"{args.host} (every network interface of this machine)" if is_wildcard(args.host)
             else args.host)
    return (f"recurrent-sim play: warning: listening on {where}: anyone on a network that reaches it can "
            f"play and save GIFs into {args.out}, with nothing asked; the page answers only to "
            f"{', '.join(names)} (--allow-host NAME adds the name others type in their browser)")


def build_session(args, checkpoint, simulator):
    from recurrent_sim.agents import make_acting_agent
    from recurrent_sim.commands.evaluate import make_evaluation_game
    from recurrent_sim.envs.simulated_game import SimulatedGame
    from recurrent_sim.play import PlaySession, RecordedGame
    from recurrent_sim.utils.device import use_device

    env_id, game = make_evaluation_game(args, checkpoint)
    height, width = checkpoint.config.frame_shape  # the agent sees gray frames (RGB ones by their luminance)
    agent = make_acting_agent(game.action_space.n, obs_shape=(args.frame_buffer_length, height, width),
                              load=args.agent, seed=args.seed, gpu=args.gpu)
    use_device(args.gpu, simulator)
    simulated = SimulatedGame(simulator, n_frames=args.frame_buffer_length)
    return env_id, PlaySession(simulated, RecordedGame(game, seed=args.seed), agent, warmup=args.warmup)


def run(args) -> int:
    from recurrent_sim.play import PlayServer, serve
    from recurrent_sim.play.http_guard import allowed_names, is_loopback

    check_arguments(args)
    checkpoint, simulator = load_simulator(simulator_path(args), None, build=True)
    env_id, session = build_session(args, checkpoint, simulator)
    scale = args.scale or max(1, 320 // max(checkpoint.config.frame_shape))
    server = PlayServer(session, args.out, fps=args.fps, host=args.host, port=args.port,
                        agent_name="trained agent" if args.agent else "non-learning agent", scale=scale,
                        allow_hosts=args.allow_host, env_id=env_id)
    if not is_loopback(args.host):
        print(network_warning(args, allowed_names(args.host, args.allow_host)), file=sys.stderr, flush=True)
    serve(server, lambda url: print(f"serving {checkpoint.path} at {url} (Ctrl-C stops)", flush=True))
    return 0
