"""The play page's web server (aiohttp): its own static files and one websocket.

Routes: ``/`` (the page), ``/favicon.ico``, ``/static/<name>`` (only the
files shipped in ``recurrent_sim/play/static``, listed when the server
starts: no path leads anywhere else) and ``/ws`` (the game, see
:mod:`recurrent_sim.play.protocol`). One page plays at a time: a new
connection takes the game over from the previous one, which is told so.

The game runs at ``fps`` steps a second while not paused; the model and
the real game step in one worker thread, so the server answers while a
step is computed. Every send and close to a page is bounded
(:data:`~recurrent_sim.play.page.SEND_SECONDS`): a page that does not take
its messages (a frozen tab, a client that never reads) is dropped, and the
game goes on for the next page. Requests must name the server in ``Host`` and ``Origin``
(:mod:`recurrent_sim.play.http_guard`), whatever address it listens on.
"""
import asyncio
import concurrent.futures
import logging
import os

from aiohttp import WSMsgType, web

from recurrent_sim.play.http_guard import HostCheck, QuietHttpLog, allowed_names, is_wildcard
from recurrent_sim.play.legend import key_help, legend
from recurrent_sim.play.page import Page
from recurrent_sim.play.protocol import (
    MAX_MESSAGE_CHARS,
    ProtocolError,
    encode_frame,
    error_message,
    parse_command,
    to_json,
)

logger = logging.getLogger(__name__)

STATIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
CONTENT_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".png": "image/png",
                 ".svg": "image/svg+xml"}
#: Longest websocket message read at all, bytes: longer ones close the connection (1009). Messages
#: up to this size but over :data:`~recurrent_sim.play.protocol.MAX_MESSAGE_CHARS` get an error reply.
MAX_MESSAGE_BYTES = 1 << 20


class PlayServer:
    """Serves one :class:`~recurrent_sim.play.session.PlaySession`.

    Args:
        session: the session (a new episode is started on the first connection).
        out: folder the GIFs are saved to.
        fps: steps a second while playing.
        host, port: where it listens (the port is also checked in ``Host``).
        agent_name: how the page names the agent.
        scale: how many screen pixels a frame pixel takes on the page (and in the GIFs).
        allow_hosts: names (or addresses) the server also answers to, besides the
            loopback names and ``host`` (see :func:`~recurrent_sim.play.http_guard.allowed_names`).
        env_id: the real game's id, for the page's legend.
    """

    def __init__(self, session, out, fps=15.0, host="127.0.0.1", port=8765, agent_name="agent", scale=8,
                 allow_hosts=(), env_id=None):
        self.session, self.out, self.fps = session, out, float(fps)
        self.host, self.port, self.agent_name, self.scale = host, port, agent_name, int(scale)
        self.hosts = HostCheck(allowed_names(host, allow_hosts), port)
        self.env_id = env_id
        self.static_files = {name for name in os.listdir(STATIC) if os.path.splitext(name)[1] in CONTENT_TYPES}
        self.worker = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="play")
        self.active = None  # the Page now playing
        self.turn = None  # asyncio.Lock: one command or step at a time, in the order they come
        self.started = False

    # ----- HTTP ------------------------------------------------------------
    def make_app(self) -> web.Application:
        app = web.Application(middlewares=[self.check_host], client_max_size=MAX_MESSAGE_CHARS)
        app.router.add_get("/", self.index)
        app.router.add_get("/favicon.ico", self.favicon)
        app.router.add_get("/static/{name}", self.static)
        app.router.add_get("/ws", self.websocket)
        app.on_shutdown.append(self.close_sockets)
        app.on_cleanup.append(self.stop_worker)
        return app

    @web.middleware
    async def check_host(self, request, handler):
        refusal = self.hosts.refusal(request)
        if refusal:
            logger.info("refused a request: %s (--allow-host NAME adds a name)", refusal)
            return web.Response(status=403, text=f"forbidden: {refusal}\n")
        return await handler(request)

    async def index(self, request):
        return self.file_response("index.html")

    async def favicon(self, request):
        return self.file_response("favicon.svg")

    async def static(self, request):
        name = request.match_info["name"]
        if name not in self.static_files:
            raise web.HTTPNotFound()
        return self.file_response(name)

    def file_response(self, name):
        """The shipped file ``name``, revalidated by the browser on every load (``no-cache``: an edited
        file is seen at once; ETag and Last-Modified let it answer 304 Not Modified)."""
        content_type = CONTENT_TYPES[os.path.splitext(name)[1]]  # not guessed: Python 3.11 names .js otherwise
        return web.FileResponse(os.path.join(STATIC, name),
                                headers={"Content-Type": content_type, "Cache-Control": "no-cache"})

    async def close_sockets(self, app):
        if self.active is not None:
            await self.active.close()

    async def stop_worker(self, app):
        self.worker.shutdown(wait=True)

    # ----- the game --------------------------------------------------------
    async def run_in_worker(self, function, *args):
        return await asyncio.get_running_loop().run_in_executor(self.worker, function, *args)

    def hello(self) -> str:
        session = self.session
        shape = session.real.frames[0].shape if session.real.frames else (0, 0)
        actions = session.real.action_names()
        return to_json({
            "type": "hello", "actions": actions, "height": int(shape[-2]), "width": int(shape[-1]),
            "channels": 3 if len(shape) == 3 else 1,
            "fps": self.fps, "has_drift": session.has_drift, "agent": self.agent_name, "warmup": session.warmup,
            "scale": self.scale, "legend": legend(self.env_id, actions), "keys": key_help(actions),
        })

    def frame_message(self, page, action=None) -> str:
        view = self.session.view()
        view["sim"], view["real"] = encode_frame(view["sim"]), encode_frame(view["real"])
        view.update(type="frame", paused=page.paused, agent=page.agent, action=action, over=self.session.over)
        return to_json(view)

    async def websocket(self, request):
        if self.turn is None:
            self.turn = asyncio.Lock()
        ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=MAX_MESSAGE_BYTES)
        await ws.prepare(request)
        page = Page(ws, request.transport)
        previous, self.active = self.active, page
        if previous is not None and not previous.ws.closed:
            await previous.close("another page took over the game")
        async with self.turn:
            if not self.started:
                await self.run_in_worker(self.session.new_episode)
                self.started = True
            await page.send(self.hello())
            await page.send(self.frame_message(page))
        ticker = asyncio.create_task(self.play(page))
        try:
            async for message in ws:
                if page is not self.active:
                    break
                async with self.turn:
                    if message.type == WSMsgType.TEXT:
                        await self.guarded(page, self.handle(page, message.data))
                    elif message.type == WSMsgType.BINARY:
                        await page.send(error_message("messages must be JSON text"))
        finally:
            ticker.cancel()
        return ws

    async def play(self, page):
        """Step the games ``fps`` times a second while not paused."""
        loop = asyncio.get_running_loop()
        period = 1.0 / self.fps
        deadline = loop.time()
        while not page.ws.closed and page is self.active:
            async with self.turn:
                if page is not self.active:
                    return
                if not page.paused and not await self.guarded(page, self.advance(page)):
                    return
            deadline = max(deadline + period, loop.time())
            await asyncio.sleep(deadline - loop.time())

    async def guarded(self, page, operation):
        """Await ``operation``; a failure is logged, told to the page and pauses the game (the server goes on)."""
        try:
            return await operation
        except Exception as e:  # a bug or a model failure must not end the server
            logger.exception("play: %s failed", getattr(operation, "__name__", "operation"))
            page.paused = True
            return await page.send(error_message(f"internal error ({type(e).__name__}: {e}); game paused"))

    async def advance(self, page, action=None) -> bool:
        """One step of both games (the agent's, the given or the held action); sends the frame."""
        if self.session.over:
            page.paused = True
            return await page.send(self.frame_message(page))
        if action is None:
            action = await self.run_in_worker(self.session.agent_action) if page.agent else page.action
        await self.run_in_worker(self.session.step, action)
        if self.session.over:
            page.paused = True
        return await page.send(self.frame_message(page, action))

    async def handle(self, page, text):
        """Act on one message from the page; a bad one is answered with an error and ignored."""
        try:
            command = parse_command(text, self.session.real.n_actions, self.session.real.last_step)
        except ProtocolError as e:
            await page.send(error_message(e))
            return
        kind, value = command
        if kind == "action":
            page.action = value
        elif kind == "agent":
            page.agent = value
            await page.send(self.frame_message(page))
        elif kind in ("pause", "resume"):
            page.paused = kind == "pause" or self.session.over
            await page.send(self.frame_message(page))
        elif kind == "step":
            page.paused = True
            await self.advance(page, value)
        elif kind in ("branch", "reset"):
            page.paused = True
            operation = self.session.new_episode if kind == "reset" else lambda: self.session.branch(value)
            await self.run_in_worker(operation)
            await page.send(self.frame_message(page))
        elif kind == "save_gif":
            try:
                path = await self.run_in_worker(self.session.save_gif, self.out, self.fps, self.scale // 2 or 1)
            except OSError as e:
                await page.send(error_message(f"could not save the GIF in {self.out}: {e.strerror or e}"))
                return
            await page.send(to_json({"type": "saved", "path": os.path.abspath(path)}))


async def _serve(server, on_ready):
    runner = web.AppRunner(server.make_app(), handle_signals=False, access_log=None, logger=QuietHttpLog())
    await runner.setup()
    try:
        site = web.TCPSite(runner, server.host, server.port)
        await site.start()
        host, port = runner.addresses[0][:2]
        server.port = server.hosts.port = port
        if is_wildcard(host):  # every interface: this machine's browser reaches it on loopback
            host = "::1" if ":" in host else "127.0.0.1"
        on_ready(f"http://{'[' + host + ']' if ':' in host else host}:{port}/")
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def serve(server: PlayServer, on_ready=lambda url: None):
    """Run ``server`` until interrupted; ``on_ready(url)`` is called once it listens
    (with the port the system chose when ``server.port`` is 0; on a wildcard address,
    the loopback URL of this machine)."""
    asyncio.run(_serve(server, on_ready))
