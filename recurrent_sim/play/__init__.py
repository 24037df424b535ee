"""Playing inside a simulator in the browser: the real game recorded beside the
simulated one (:class:`RecordedGame`, :class:`PlaySession`), the page's
messages (:mod:`recurrent_sim.play.protocol`) and its web server
(:class:`PlayServer`, aiohttp, a websocket carrying the frames)."""
from recurrent_sim.play.recorded_game import RecordedGame  # NOQA
from recurrent_sim.play.server import PlayServer, serve  # NOQA
from recurrent_sim.play.session import PlaySession, divergence  # NOQA
