"""Who may talk to the play server over HTTP, and what a malformed request costs.

A browser sends every request with a ``Host`` header (the name in the
address bar) and, from scripts of other pages, an ``Origin``. The server
answers only requests whose ``Host`` and ``Origin`` name it: the loopback
names, the address it listens on when that is one address (not a wildcard
such as ``0.0.0.0``), and the names given with ``--allow-host``. A web site
open in the same browser, even one whose name was pointed at this machine
(DNS rebinding), names itself in these headers and is refused.

Malformed requests (a URL over 8 KB, no ``Host``, ``GET file:///``) are
answered 400 by aiohttp; :class:`QuietHttpLog` logs each in one line
instead of an error with a traceback.
"""
import ipaddress
import logging
import re
from urllib.parse import urlsplit

from aiohttp.http_exceptions import HttpProcessingError

logger = logging.getLogger(__name__)

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
WILDCARD_ADDRESSES = ("", "0.0.0.0", "[::]")
_LABEL = r"[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?"
_HOST_NAME = re.compile(rf"^{_LABEL}(\.{_LABEL})*\.?$")


def host_name(text) -> str:
    """The name or address ``text`` as a ``Host`` header carries it: lower case,
    IPv6 addresses in brackets (``::1`` -> ``[::1]``).

    Raises:
        ValueError: ``text`` is neither a host name nor an IP address.
    """
    name = str(text).strip().lower()
    bare = name[1:-1] if name.startswith("[") and name.endswith("]") else name
    try:
        address = ipaddress.ip_address(bare)
    except ValueError:
        if not _HOST_NAME.match(name) or len(name) > 253:
            raise ValueError(f"{text!r} is not a host name or an IP address") from None
        return name
    return f"[{address.compressed}]" if address.version == 6 else address.compressed


def is_loopback(host) -> bool:
    """True for ``localhost`` and the loopback addresses (127.0.0.0/8, ``::1``)."""
    name = host_name(host)
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name.strip("[]")).is_loopback
    except ValueError:
        return False


def is_wildcard(host) -> bool:
    """True for the addresses that mean "every interface" (``0.0.0.0``, ``::``)."""
    return host_name(host) in WILDCARD_ADDRESSES if host else True


def allowed_names(host, allow_hosts=()) -> tuple:
    """The names the server answers to: the loopback names, ``host`` unless a
    wildcard, and ``allow_hosts``, normalised by :func:`host_name`."""
    names = list(LOOPBACK_NAMES)
    for name in ([] if is_wildcard(host) else [host]) + list(allow_hosts):
        if host_name(name) not in names:
            names.append(host_name(name))
    return tuple(names)


def split_host(netloc):
    """``name[:port]`` -> (normalised name, port or None); (None, None) when unreadable."""
    if not netloc or "@" in netloc:
        return None, None
    try:
        address = urlsplit(f"//{netloc}")
        name, port = address.hostname, address.port
        return host_name(f"[{name}]" if name and ":" in name else name), port
    except (ValueError, TypeError):
        return None, None


class HostCheck:
    """``allows(netloc)``: does a ``Host`` value (or an ``Origin``'s host) name this server?

    Args:
        names: the names allowed (see :func:`allowed_names`).
        port: the port listened on; a ``Host`` naming another port is refused.
    """

    def __init__(self, names, port):
        self.names, self.port = frozenset(names), port

    def allows(self, netloc) -> bool:
        name, port = split_host(netloc)
        return name in self.names and port in (None, self.port)

    def refusal(self, request):
        """None when ``request`` may go on, else the reason it is refused (one line)."""
        if not self.allows(request.headers.get("Host", "")):
            return f"the host {request.headers.get('Host', '')!r} is not a name of this server"
        origin = request.headers.get("Origin")
        if origin and not self.allows(urlsplit(origin).netloc if "//" in origin else ""):
            return f"requests from the page {origin!r} are not allowed"
        return None


class QuietHttpLog(logging.LoggerAdapter):
    """aiohttp's server logger, with malformed requests logged in one line without traceback.

    aiohttp answers them 400 itself and reports them with
    ``logger.exception(..., exc_info=HttpProcessingError)``: that call becomes
    one INFO line here; every other message goes through unchanged.
    """

    def __init__(self):
        super().__init__(logging.getLogger("aiohttp.server"), {})

    def exception(self, msg, *args, exc_info=True, **kwargs):
        if isinstance(exc_info, HttpProcessingError):
            reason = " ".join(str(exc_info.message).split())[:120]
            logger.info("refused a malformed HTTP request from %s: %d %s", args[0] if args else "?",
                        exc_info.code, reason)
            return
        self.error(msg, *args, exc_info=exc_info, **kwargs)
