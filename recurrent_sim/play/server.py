"""The play page's web server (aiohttp): its own static files and one websocket.

Routes: ``/`` (the page), ``/static/<name>`` (only the files shipped in
``recurrent_sim/play/static``, listed when the server starts: no path
leads anywhere else) and ``/ws`` (the game, see
:mod:`recurrent_sim.play.protocol`). One page plays at a time: a new
connection takes the game over from the previous one, which is told so.

The game runs at ``fps`` steps a second while not paused; the model and
the real game step in one worker thread, so the server answers while a
step is computed. Bound to the loopback address, the server also refuses
requests whose ``Host`` or ``Origin`` is not a loopback name, so that
other web sites cannot reach it through the browser (DNS rebinding).
"""
import asyncio
import concurrent.futures
import logging
import os
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web

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
CONTENT_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".png": "image/png"}
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


def is_loopback(host) -> bool:
    return host in ("127.0.0.1", "localhost", "::1")


class Controls:
    """What the page asked for: the held action, pause, agent at the controls."""

    def __init__(self):
        self.action, self.paused, self.agent = 0, False, False


class PlayServer:
    """Serves one :class:`~recurrent_sim.play.session.PlaySession`.

    Args:
        session: the session (a new episode is started on the first connection).
        out: folder the GIFs are saved to.
        fps: steps a second while playing.
        host, port: where it listens (the port is only used to check ``Host``).
        agent_name: how the page names the agent.
        scale: how many screen pixels a frame pixel takes on the page (and in the GIFs).
    """

    def __init__(self, session, out, fps=15.0, host="127.0.0.1", port=8765, agent_name="agent", scale=8):
        self.session, self.out, self.fps = session, out, float(fps)
        self.host, self.port, self.agent_name, self.scale = host, port, agent_name, int(scale)
        self.static_files = {name for name in os.listdir(STATIC) if os.path.splitext(name)[1] in CONTENT_TYPES}
        self.worker = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="play")
        self.active = None  # the websocket now playing
        self.turn = None  # asyncio.Lock: one command or step at a time, in the order they come
        self.started = False

    # ----- HTTP ------------------------------------------------------------
    def make_app(self) -> web.Application:
        app = web.Application(middlewares=[self.check_host], client_max_size=MAX_MESSAGE_CHARS)
        app.router.add_get("/", self.index)
        app.router.add_get("/static/{name}", self.static)
        app.router.add_get("/ws", self.websocket)
        app.on_shutdown.append(self.close_sockets)
        app.on_cleanup.append(self.stop_worker)
        return app

    def allowed_host(self, host) -> bool:
        """With a loopback address bound, only loopback names reach the server."""
        if not is_loopback(self.host):
            return True
        return host in {f"{name}:{self.port}" for name in LOOPBACK_NAMES} | set(LOOPBACK_NAMES)

    @web.middleware
    async def check_host(self, request, handler):
        origin = request.headers.get("Origin")
        if not self.allowed_host(request.host) or (origin and not self.allowed_host(urlsplit(origin).netloc)):
            return web.Response(status=403, text="forbidden host or origin\n")
        return await handler(request)

    async def index(self, request):
        return self.file_response("index.html")

    async def static(self, request):
        name = request.match_info["name"]
        if name not in self.static_files:
            raise web.HTTPNotFound()
        return self.file_response(name)

    def file_response(self, name):
        with open(os.path.join(STATIC, name), "rb") as f:
            body = f.read()
        content_type = CONTENT_TYPES[os.path.splitext(name)[1]]
        return web.Response(body=body, content_type=content_type, headers={"Cache-Control": "no-cache"})

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
        height, width = session.real.frames[0].shape if session.real.frames else (0, 0)
        return to_json({
            "type": "hello", "actions": session.real.action_names(), "height": int(height), "width": int(width),
            "fps": self.fps, "has_drift": session.has_drift, "agent": self.agent_name, "warmup": session.warmup,
            "scale": self.scale,
        })

    def frame_message(self, controls, action=None) -> str:
        view = self.session.view()
        view["sim"], view["real"] = encode_frame(view["sim"]), encode_frame(view["real"])
        view.update(type="frame", paused=controls.paused, agent=controls.agent, action=action,
                    over=self.session.over)
        return to_json(view)

    async def send(self, ws, text) -> bool:
        """Send ``text``; False when the socket has gone (nothing else happens)."""
        if ws.closed:
            return False
        try:
            await ws.send_str(text)
            return True
        except (ConnectionError, RuntimeError) as e:
            logger.debug("page went away: %s", e)
            return False

    async def websocket(self, request):
        if self.turn is None:
            self.turn = asyncio.Lock()
        ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=MAX_MESSAGE_CHARS)
        await ws.prepare(request)
        previous, self.active = self.active, ws
        if previous is not None and not previous.closed:
            await self.send(previous, error_message("another page took over the game"))
            await previous.close()
        controls = Controls()
        async with self.turn:
            if not self.started:
                await self.run_in_worker(self.session.new_episode)
                self.started = True
            await self.send(ws, self.hello())
            await self.send(ws, self.frame_message(controls))
        ticker = asyncio.create_task(self.play(ws, controls))
        try:
            async for message in ws:
                if ws is not self.active:
                    break
                async with self.turn:
                    if message.type == WSMsgType.TEXT:
                        await self.guarded(ws, controls, self.handle(ws, controls, message.data))
                    elif message.type == WSMsgType.BINARY:
                        await self.send(ws, error_message("messages must be JSON text"))
        finally:
            ticker.cancel()
        return ws

    async def play(self, ws, controls):
        """Step the games ``fps`` times a second while not paused."""
        loop = asyncio.get_running_loop()
        period = 1.0 / self.fps
        deadline = loop.time()
        while not ws.closed and ws is self.active:
            async with self.turn:
                if not controls.paused and not await self.guarded(ws, controls, self.advance(ws, controls)):
                    return
            deadline = max(deadline + period, loop.time())
            await asyncio.sleep(deadline - loop.time())

    async def guarded(self, ws, controls, operation):
        """Await ``operation``; a failure is logged, told to the page and pauses the game (the server goes on)."""
        try:
            return await operation
        except Exception as e:  # a bug or a model failure must not end the server
            logger.exception("play: %s failed", getattr(operation, "__name__", "operation"))
            controls.paused = True
            return await self.send(ws, error_message(f"internal error ({type(e).__name__}: {e}); game paused"))

    async def advance(self, ws, controls, action=None) -> bool:
        """One step of both games (the agent's, the given or the held action); sends the frame."""
        if self.session.over:
            controls.paused = True
            return await self.send(ws, self.frame_message(controls))
        if action is None:
            action = await self.run_in_worker(self.session.agent_action) if controls.agent else controls.action
        await self.run_in_worker(self.session.step, action)
        if self.session.over:
            controls.paused = True
        return await self.send(ws, self.frame_message(controls, action))

    async def handle(self, ws, controls, text):
        """Act on one message from the page; a bad one is answered with an error and ignored."""
        try:
            command = parse_command(text, self.session.real.n_actions, self.session.real.last_step)
        except ProtocolError as e:
            await self.send(ws, error_message(e))
            return
        kind, value = command
        if kind == "action":
            controls.action = value
        elif kind == "agent":
            controls.agent = value
            await self.send(ws, self.frame_message(controls))
        elif kind in ("pause", "resume"):
            controls.paused = kind == "pause" or self.session.over
            await self.send(ws, self.frame_message(controls))
        elif kind == "step":
            controls.paused = True
            await self.advance(ws, controls, value)
        elif kind in ("branch", "reset"):
            controls.paused = True
            operation = self.session.new_episode if kind == "reset" else lambda: self.session.branch(value)
            await self.run_in_worker(operation)
            await self.send(ws, self.frame_message(controls))
        elif kind == "save_gif":
            try:
                path = await self.run_in_worker(self.session.save_gif, self.out, self.fps, self.scale // 2 or 1)
            except OSError as e:
                await self.send(ws, error_message(f"could not save the GIF in {self.out}: {e.strerror or e}"))
                return
            await self.send(ws, to_json({"type": "saved", "path": os.path.abspath(path)}))


async def _serve(server, on_ready):
    runner = web.AppRunner(server.make_app(), handle_signals=False, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, server.host, server.port)
        await site.start()
        host, port = runner.addresses[0][:2]
        server.port = port
        on_ready(f"http://{'[' + host + ']' if ':' in host else host}:{port}/")
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def serve(server: PlayServer, on_ready=lambda url: None):
    """Run ``server`` until interrupted; ``on_ready(url)`` is called once it listens
    (with the port the system chose when ``server.port`` is 0)."""
    asyncio.run(_serve(server, on_ready))
