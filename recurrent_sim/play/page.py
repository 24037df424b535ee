"""One page connected to the play server: its websocket, what it asked for, and bounded sends.

Every message to a page, and its close, must go through within
:data:`SEND_SECONDS`; a page that does not take them (a frozen tab, a
client that connects, sends and never reads) is dropped: its connection
is reset, what waited to go out is thrown away, and the game it held the
turn of goes on for the others.
"""
import asyncio
import contextlib
import logging
import socket
import struct

from recurrent_sim.play.protocol import error_message

logger = logging.getLogger(__name__)

#: Seconds a page has to take one message (or to close) before it is dropped.
SEND_SECONDS = 3.0


class Page:
    """A connected page: ``ws`` (aiohttp ``WebSocketResponse``), its ``transport``,
    and what it asked for: the held ``action``, ``paused``, ``agent`` at the controls.

    Messages to a page go out one at a time: aiohttp's writers share one wait
    for the connection to drain, and a send cut short by its timeout cancels
    that wait for all of them. So the first send cut short marks the page
    ``dropped`` and nothing is sent to it again.
    """

    def __init__(self, ws, transport):
        self.ws, self.transport = ws, transport
        self.action, self.paused, self.agent = 0, False, False
        self.dropped = False
        self._sending = asyncio.Lock()

    async def _in_turn(self, method, *args):
        async with self._sending:
            if self.dropped:
                raise ConnectionResetError("the page was dropped")
            try:
                return await method(*args)
            except asyncio.CancelledError:
                self.dropped = True
                raise

    async def send(self, text) -> bool:
        """Send ``text`` within :data:`SEND_SECONDS`; False when the page has gone or was dropped."""
        if self.ws.closed or self.dropped:
            return False
        try:
            await asyncio.wait_for(self._in_turn(self.ws.send_str, text), SEND_SECONDS)
            return True
        except asyncio.TimeoutError:
            self.drop(f"it took no message for {SEND_SECONDS:g} s")
        except (ConnectionError, RuntimeError) as e:
            logger.debug("page went away: %s", e)
        return False

    async def close(self, notice=None):
        """Tell the page ``notice`` (an error message) and close its websocket, within bounded time;
        else drop it."""
        if notice is not None and not await self.send(error_message(notice)):
            return
        try:
            await asyncio.wait_for(self._in_turn(self.ws.close), SEND_SECONDS)
        except asyncio.TimeoutError:
            self.drop(f"it did not close within {SEND_SECONDS:g} s")
        except (ConnectionError, RuntimeError) as e:
            logger.debug("page went away: %s", e)

    def drop(self, why):
        """Cut the connection at once: a reset, what was waiting to go out thrown away."""
        self.dropped = True
        if self.transport is None:
            return
        logger.info("dropped a page: %s", why)
        connection = self.transport.get_extra_info("socket")
        if connection is not None:  # no lingering: the kernel frees its send buffer now
            with contextlib.suppress(OSError):
                connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.transport.abort()
