"""The HTTP edge: what a connection may cost the service before (and instead of) reaching the resource.

Twisted's defaults suit a trusted peer: a 12-hour idle timeout that every received byte resets, no bound on
connections, request bodies over 100 KB spooled to a temporary file, and an over-long request line or header
answered by closing the connection. Here every connection has a deadline for its request, the number of
connections is bounded, bodies are refused by their declared or received size before they are stored, and
every refusal is an answer with a reason, counted. Connection events (timeouts, the limit) are counted in
metrics and summarised in the log at most once per :data:`LOG_SUMMARY_INTERVAL`, so an attacker's
connections cannot grow the log.

The limits live here, in one place; none is configuration, because none needs tuning per deployment (the
connection limit follows the process's descriptor limit, which is what an operator tunes).
"""

from __future__ import annotations

import json
import logging
import re
import resource as rlimits
from collections import Counter
from io import BytesIO
from typing import Any

from twisted.internet.interfaces import ITCPTransport
from twisted.internet.protocol import Protocol
from twisted.web.http import HTTPChannel
from twisted.web.http_headers import Headers
from twisted.web.server import Request, Site

from graphmetrics.registry import MetricsRegistry

from .web import HelloWorldResource

__all__ = [
    "HelloWorldSite", "origin_form", "connection_limit",
    "IDLE_TIMEOUT", "REQUEST_TIMEOUT", "MAX_REQUEST_LINE_BYTES", "MAX_HEAD_BYTES", "MAX_HEADER_FIELDS",
    "MAX_BODY_BYTES", "MAX_CONNECTIONS", "FD_RESERVE", "LINGER_TIMEOUT", "LOG_SUMMARY_INTERVAL",
]

log = logging.getLogger(__name__)

IDLE_TIMEOUT = 30.0
"""Seconds a keep-alive connection may wait for its next request (or a response may wait for the peer to
read it) before it is closed."""
REQUEST_TIMEOUT = 10.0
"""Seconds from a connection's opening (first request) or a request's first byte (later ones) to the end of
the request, body included: a peer trickling a byte at a time is answered 408 and closed when it runs out."""
MAX_REQUEST_LINE_BYTES = 16 * 1024
"""Longest request line; longer is answered 414. Far above any real ``GET /?world_size=N``."""
MAX_HEAD_BYTES = 32 * 1024
"""Longest request head (request line and header fields); longer is answered 431."""
MAX_HEADER_FIELDS = 100
"""Most header fields in one request; more is answered 431."""
MAX_BODY_BYTES = 64 * 1024
"""Largest request body read (into memory, then dropped: no endpoint takes one); a larger declared
``Content-Length`` is answered 413 before a byte of the body is read, a larger chunked body as it arrives."""
MAX_CONNECTIONS = 1000
"""Most open connections, and never more than the descriptor limit minus :data:`FD_RESERVE`. At the limit
the service stops accepting: new connections wait in the kernel's listen queue until one closes."""
FD_RESERVE = 64
"""Descriptors kept free under the limit for everything else (reporter sockets, ``/proc`` reads, logs) and for
connections Twisted accepts in the same batch as the one that reached the limit."""
LINGER_TIMEOUT = 2.0
"""After a refusal the service stops writing and drains what the peer still sends for this long, so the
peer reads the answer instead of a reset; then the connection is aborted."""
LOG_SUMMARY_INTERVAL = 60.0
"""Connection events are logged at most once per this many seconds, as one summary line."""

_MAX_OVERFLOW_ANSWERS = FD_RESERVE // 4
"""Most 503 answers beyond the limit in flight at once; more are closed unanswered (each answer holds a
descriptor until the peer has read it)."""
_JSON = b"application/json"
_REASONS = {
    400: b"Bad Request", 408: b"Request Timeout", 413: b"Content Too Large", 414: b"URI Too Long",
    431: b"Request Header Fields Too Large", 503: b"Service Unavailable", 505: b"HTTP Version Not Supported",
}
"""RFC 9110's reason phrases of the edge's answers (Twisted's table lacks 431)."""
_METHOD = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
"""RFC 9110's token: what a method may be."""
_VERSION = re.compile(rb"HTTP/[0-9]\.[0-9]")
_ABSOLUTE_FORM = re.compile(rb"[hH][tT][tT][pP][sS]?://([^/?#]*)")


def connection_limit(maximum: int = MAX_CONNECTIONS, reserve: int = FD_RESERVE) -> int:
    """The connection limit for this process: ``maximum``, and :data:`FD_RESERVE` below its descriptor limit."""
    soft, _hard = rlimits.getrlimit(rlimits.RLIMIT_NOFILE)
    if soft == rlimits.RLIM_INFINITY:
        return maximum
    return max(1, min(maximum, soft - reserve))


def origin_form(target: bytes, headers: Headers) -> bytes:
    """``target`` in origin-form (``/path?query``); an absolute-form target's authority becomes the ``Host``.

    RFC 9112 3.2.2: a server must accept the absolute-form and then use its authority instead of ``Host``.
    """
    absolute = _ABSOLUTE_FORM.match(target)
    if absolute is None:
        return target
    authority = absolute.group(1).rpartition(b"@")[2]  # userinfo is not part of the host
    if authority:
        headers.setRawHeaders(b"host", [authority])
    rest = target[absolute.end():]
    return rest if rest.startswith(b"/") else b"/" + rest


def _response(status: int, detail: str, extra: bytes = b"") -> bytes:
    body = json.dumps({"status": status, "error": detail}).encode("ascii")
    return (
        b"HTTP/1.1 %d %s\r\ncontent-type: %s\r\ncontent-length: %d\r\nconnection: close\r\n%s\r\n"
        % (status, _REASONS[status], _JSON, len(body), extra)
    ) + body


def _finish_writing(transport: Any) -> None:
    """Send what is written, then a FIN, and keep reading: the peer reads the answer, not a reset (a close with
    its unread bytes in our receive buffer would send one, and could discard the answer)."""
    if ITCPTransport.providedBy(transport):
        transport.loseWriteConnection()
    else:
        transport.loseConnection()


class EventSummary:
    """Counts events and logs them as one line at most once per ``interval`` seconds of ``clock``.

    The first event after a quiet interval is logged at once; later ones are summed into the line that ends
    the interval.
    """

    def __init__(self, clock: Any, interval: float = LOG_SUMMARY_INTERVAL) -> None:
        self._clock = clock
        self._interval = interval
        self._pending: Counter[str] = Counter()
        self._call: Any = None

    def note(self, event: str) -> None:
        self._pending[event] += 1
        if self._call is None:
            self._flush()

    def stop(self) -> None:
        if self._call is not None and self._call.active():
            self._call.cancel()
        self._call = None
        if self._pending:
            self._log()

    def _flush(self) -> None:
        if not self._pending:
            self._call = None
            return
        self._log()
        self._call = self._clock.callLater(self._interval, self._flush)

    def _log(self) -> None:
        events = ", ".join(f"{count} {event}" for event, count in sorted(self._pending.items()))
        log.info("HTTP connections: %s (next summary in %gs at the earliest)", events, self._interval)
        self._pending.clear()


class EdgeRequest(Request):
    """A request whose body is never spooled to disk and whose target is always origin-form."""

    def gotLength(self, length: int | None) -> None:
        # Twisted spools a body over 100 KB (or of unknown length) to a temporary file; bodies here are bounded
        # by MAX_BODY_BYTES (EdgeChannel refuses a larger Content-Length before reading it).
        self.content = BytesIO()

    def handleContentChunk(self, data: bytes) -> None:
        if self.content.tell() + len(data) > MAX_BODY_BYTES:  # chunked: its size shows only as it arrives
            self.channel.refuse(413, f"request body larger than {MAX_BODY_BYTES} bytes")
        elif not self.channel.refused:
            self.content.write(data)

    def requestReceived(self, command: bytes, path: bytes, version: bytes) -> None:
        if path == b"*":
            # The asterisk-form (only meaningful for OPTIONS, which no path implements): Twisted would answer it
            # itself, without a reason and uncounted; as "/*" the resource answers it like any unknown target.
            path = b"/*"
        super().requestReceived(command, origin_form(path, self.requestHeaders), version)


class EdgeChannel(HTTPChannel):
    """Twisted's HTTP/1.1 channel with a request deadline, head and body limits answered 4xx, no per-client
    log lines, and a close that lets the peer read the refusal."""

    MAX_LENGTH = MAX_HEAD_BYTES  # LineReceiver: the longest line buffered before lineLengthExceeded
    totalHeadersSize = MAX_HEAD_BYTES  # Twisted's own bare 400 never fires first: ours is checked before
    abortTimeout = None  # our timeoutConnection schedules its own abort, without Twisted's log line
    site: HelloWorldSite

    def __init__(self) -> None:
        super().__init__()
        self.refused = False
        self._deadline: Any = None
        self._abort: Any = None
        self._processing = False
        self._request_started = False
        self._head_lines = 0
        self._head_bytes = 0

    # -- connection -------------------------------------------------------------------------------------
    def connectionMade(self) -> None:
        super().connectionMade()
        self.site.connection_opened()
        self._deadline = self.callLater(REQUEST_TIMEOUT, self._request_timed_out)  # the first request's

    def connectionLost(self, reason: Any = None) -> None:
        for call in (self._deadline, self._abort):
            if call is not None and call.active():
                call.cancel()
        self._deadline = self._abort = None
        super().connectionLost(reason)
        self.site.connection_closed()

    def timeoutConnection(self) -> None:
        """Twisted's idle timeout (``IDLE_TIMEOUT``): counted, not logged per client."""
        self.site.connection_timed_out("idle")
        self._close(self.loseConnection)

    # -- the request's bytes ----------------------------------------------------------------------------
    def dataReceived(self, data: bytes) -> None:
        if self.refused:
            return  # lingering after a refusal: drained and dropped
        if not self._processing:
            self._request_started = True
            if self._deadline is None:
                self._deadline = self.callLater(REQUEST_TIMEOUT, self._request_timed_out)
        super().dataReceived(data)

    def lineReceived(self, line: bytes) -> None:
        if self.refused:
            return
        if self._head_lines == 0 and not line:
            super().lineReceived(line)  # a stray empty line before the request line
            return
        self._head_lines += 1
        self._head_bytes += len(line)
        if self._head_lines == 1 and not self._request_line_ok(line):
            return
        if self._head_bytes > MAX_HEAD_BYTES:
            self.refuse(431, f"request head (request line and header fields) longer than {MAX_HEAD_BYTES} bytes")
        elif self._head_lines > MAX_HEADER_FIELDS + 2:  # request line, fields, the empty line ending them
            self.refuse(431, f"more than {MAX_HEADER_FIELDS} header fields")
        else:
            super().lineReceived(line)

    def _request_line_ok(self, line: bytes) -> bool:
        """Refuse a request line that is too long or not ``method target HTTP/1.x`` (Twisted 22.4 would answer
        in the client's "version", whatever it is)."""
        if len(line) > MAX_REQUEST_LINE_BYTES:
            self.refuse(414, f"request line longer than {MAX_REQUEST_LINE_BYTES} bytes")
            return False
        parts = line.split(b" ")
        if len(parts) != 3 or not _METHOD.fullmatch(parts[0]) or not _VERSION.fullmatch(parts[2]):
            self.refuse(400, "malformed request line: expected a method, a target and HTTP/1.1, one space apart")
            return False
        if not parts[2].startswith(b"HTTP/1."):
            self.refuse(505, "HTTP version not supported: use HTTP/1.1")
            return False
        return True

    def lineLengthExceeded(self, line: bytes) -> None:
        if self._head_lines == 0:
            self.refuse(414, f"request line longer than {MAX_REQUEST_LINE_BYTES} bytes")
        else:
            self.refuse(431, f"header field longer than {MAX_HEAD_BYTES} bytes")

    def allHeadersReceived(self) -> None:
        if self.length is not None and self.length > MAX_BODY_BYTES:
            self.refuse(413, f"request body of {self.length} bytes is larger than {MAX_BODY_BYTES}")
            return  # before Twisted's allHeadersReceived: no "100 Continue", no body read
        super().allHeadersReceived()

    def rawDataReceived(self, data: bytes) -> None:
        if not self.refused:
            super().rawDataReceived(data)

    def allContentReceived(self) -> None:
        if self.refused:
            return
        if self._deadline is not None and self._deadline.active():
            self._deadline.cancel()
        self._deadline = None
        self._request_started = False
        self._head_lines = self._head_bytes = 0
        self._processing = True
        super().allContentReceived()

    def requestDone(self, request: Any) -> None:
        self._processing = False  # before Twisted replays pipelined bytes: they start the next deadline
        super().requestDone(request)

    def _respondToBadRequestAndDisconnect(self) -> None:
        # Twisted's own parser errors (a malformed request line, header, Content-Length or chunk): it would
        # write a bare 400 and close, uncounted.
        self.refuse(400, "malformed request: the request line, a header field or the chunked body cannot be parsed")

    # -- answers ----------------------------------------------------------------------------------------
    def _request_timed_out(self) -> None:
        self._deadline = None
        self.site.connection_timed_out("request")
        if self._request_started:
            self.refuse(408, f"request not complete within {REQUEST_TIMEOUT:g} s", counted=False)
        else:
            self._close(self.loseConnection)  # it said nothing: there is nothing to answer

    def refuse(self, status: int, detail: str, *, counted: bool = True) -> None:
        """Answer ``status`` with ``detail`` as the reason, then close; later bytes are drained and dropped.

        ``counted``: the answer is a refused request (the resource's accounting, as malformed), not a
        connection event.
        """
        if self.refused:
            return
        self.refused = True
        self.setTimeout(None)
        if self._deadline is not None and self._deadline.active():
            self._deadline.cancel()
        self._deadline = None
        if counted:
            self.site.request_refused(status)
        self.transport.write(_response(status, detail))
        self.transport.unregisterProducer()
        self._close(lambda: _finish_writing(self.transport))

    def _close(self, close: Any) -> None:
        """``close()``, and abort the connection if it is still open :data:`LINGER_TIMEOUT` later (a peer that
        reads nothing, or keeps sending)."""
        if self._abort is None:
            self._abort = self.callLater(LINGER_TIMEOUT, self.transport.abortConnection)
        close()


class _Overflow(Protocol):
    """A connection accepted beyond the limit (Twisted accepts in batches): a 503, then a lingering close."""

    def __init__(self, site: HelloWorldSite) -> None:
        self._site = site
        self._abort: Any = None

    def connectionMade(self) -> None:
        self.transport.write(_response(503, "too many connections; retry shortly", b"retry-after: 1\r\n"))
        self._abort = self._site.reactor.callLater(LINGER_TIMEOUT, self.transport.abortConnection)
        _finish_writing(self.transport)

    def connectionLost(self, reason: Any = None) -> None:
        if self._abort is not None and self._abort.active():
            self._abort.cancel()
        self._site.overflow_closed()


class HelloWorldSite(Site):
    """The service's ``Site``: the edge channel and request, a connection limit, connection metrics.

    ``reactor`` is the clock of the timeouts (a ``task.Clock`` in tests). No access log: the metrics are it.
    """

    noisy = False
    protocol = EdgeChannel  # type: ignore[assignment]
    requestFactory = EdgeRequest

    def __init__(
        self,
        resource: HelloWorldResource,
        registry: MetricsRegistry,
        *,
        reactor: Any = None,
        max_connections: int | None = None,
    ) -> None:
        super().__init__(resource, reactor=reactor, timeout=IDLE_TIMEOUT)
        self.max_connections = connection_limit() if max_connections is None else max_connections
        self.open_connections = 0
        self._resource = resource
        self._port: Any = None
        self._accepting = True
        self._overflowing = 0
        self._timed_out = registry.counter("connections.timed_out")
        self._refused = registry.counter("connections.refused")
        self._limit_reached = registry.counter("connections.limit_reached")
        registry.gauge("connections.open", lambda: self.open_connections)
        self._summary = EventSummary(self.reactor)

    def listening(self, port: Any) -> None:
        """The port this site is served on: paused at the connection limit, resumed below it."""
        self._port = port

    def log(self, request: Any) -> None:
        pass

    def stopFactory(self) -> None:
        self._port = None  # no longer listening: nothing to pause or resume
        self._summary.stop()
        super().stopFactory()

    def buildProtocol(self, addr: Any) -> Any:
        if self.open_connections < self.max_connections:
            return super().buildProtocol(addr)
        # Accepted in the same batch as the connection that reached the limit: answered while few are, closed
        # at once beyond that, so that a burst cannot use the descriptors in reserve.
        self._refused.inc()
        if self._overflowing >= _MAX_OVERFLOW_ANSWERS:
            self._summary.note("closed unanswered beyond the connection limit")
            return None
        self._overflowing += 1
        self._summary.note("refused (503) at the connection limit")
        return _Overflow(self)

    # -- called by EdgeChannel --------------------------------------------------------------------------
    def connection_opened(self) -> None:
        self.open_connections += 1
        self._fit_accept_batch()
        if self.open_connections >= self.max_connections and self._accepting and self._port is not None:
            self._port.stopReading()
            self._accepting = False
            self._limit_reached.inc()
            self._summary.note(f"pauses in accepting at the connection limit ({self.max_connections})")

    def connection_closed(self) -> None:
        self.open_connections -= 1
        self._fit_accept_batch()
        if not self._accepting and self.open_connections < self.max_connections and self._port is not None:
            self._port.startReading()
            self._accepting = True

    def overflow_closed(self) -> None:
        self._overflowing -= 1

    def _fit_accept_batch(self) -> None:
        # Twisted's TCP port accepts up to `numberAccepts` connections per wake-up (and grows it by 20 after
        # a full batch); kept within the free slots, a batch overshoots the limit by that growth at most.
        if self._port is not None and hasattr(self._port, "numberAccepts"):
            free = self.max_connections - self.open_connections
            self._port.numberAccepts = max(1, min(self._port.numberAccepts, free))

    def connection_timed_out(self, kind: str) -> None:
        self._timed_out.inc()
        self._summary.note(f"closed by the {kind} timeout")

    def request_refused(self, status: int) -> None:
        self._resource.refused(status)
