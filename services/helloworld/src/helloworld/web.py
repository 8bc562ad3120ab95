"""The HTTP face of the service: ``/`` (HelloWorld and the ``world_size`` histogram), ``/healthz``, ``/metrics``.

Request accounting: every request (but the scrapes below) increments ``hello_called``, is timed
by the ``requests`` timer and counted in ``responses.<status>``, whatever its outcome, so that
``hello_called.count == requests.count == sum(responses.*.count)`` always holds. A GET or HEAD of ``/healthz``
or ``/metrics`` is left out so that health checks and scrapes do not distort what is measured.
Malformed requests additionally count in ``bad_requests``: bad input (400), a method other than GET or HEAD on
any path (405), and what the HTTP edge (``edge``) refuses before this resource sees it (400, 413, 414, 431, 505),
reported through :meth:`HelloWorldResource.refused`. Unknown paths (404) count in ``not_found``. None of
them touches ``world_size``. User input never produces a traceback: only a bug (a 500) is logged as one.
``/metrics`` is built on the reactor's thread pool in the service (a big registry takes a second or more
to serialise) and answers 503 past ``MAX_METRICS_BYTES``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred
from twisted.python.failure import Failure
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from graphmetrics.registry import MetricsRegistry
from graphmetrics.reporters.jsonsnapshot import snapshot_json

from .query import WORLD_SIZE, BadRequest, parse_world_size

__all__ = ["HelloWorldResource", "EXCLUDED_PATHS"]

log = logging.getLogger(__name__)

EXCLUDED_PATHS = frozenset({b"/healthz", b"/metrics"})
"""Paths whose GET and HEAD are left out of the request accounting."""

_TEXT = b"text/plain; charset=utf-8"
_JSON = b"application/json"
_READ_METHODS = (b"GET", b"HEAD")
_SHOWN_PATH_BYTES = 80
MAX_METRICS_BYTES = 64 * 1024 * 1024
"""``/metrics`` answers 503 past this size: read a registry that big from Graphite."""

OffThread = Callable[[Callable[[], bytes]], "Deferred[bytes]"]
"""Runs a function on another thread, firing with its result on the reactor thread."""


def _error(status: int, detail: str) -> tuple[int, bytes, bytes]:
    return status, _JSON, json.dumps({"status": status, "error": detail}).encode("ascii")


class HelloWorldResource(Resource):
    """The whole URL space of the service (a leaf: Twisted does no child lookup per request).

    Requests are timed on the registry's clock: ``time.perf_counter`` by default, a test's clock if the
    registry was given one.
    """

    isLeaf = True

    def __init__(self, registry: MetricsRegistry, off_thread: OffThread | None = None) -> None:
        """``off_thread`` (the service passes the reactor's thread pool) builds ``/metrics`` away from the
        reactor thread: 200,000 metrics take over a second to serialise. None: built in place."""
        super().__init__()
        self._registry = registry
        self._off_thread = off_thread
        self._hello_called = registry.counter("hello_called")
        self._requests = registry.timer("requests")
        self._world_size = registry.histogram(WORLD_SIZE)
        self._bad_requests = registry.counter("bad_requests")
        self._not_found = registry.counter("not_found")
        self._responses: dict[int, Any] = {}

    def render(self, request: Request) -> bytes | int:  # type: ignore[override]
        path = request.path or b""
        if path == b"/metrics" and request.method in _READ_METHODS and self._off_thread is not None:
            return self._metrics_later(request, self._off_thread)
        if path in EXCLUDED_PATHS and request.method in _READ_METHODS:
            status, content_type, body = self._unaccounted(path)
        else:
            timing = self._requests.time()  # with the C speedups, one C object start to stop
            status, content_type, body = self._answer(request, path)
            timing.stop()
            self._account(status)
        return self._respond(request, status, content_type, body)

    def _respond(self, request: Request, status: int, content_type: bytes, body: bytes) -> bytes:
        if status != 200:  # Twisted's default
            request.setResponseCode(status)
        request.setHeader(b"content-type", content_type)
        if request.method == b"HEAD":
            # Twisted drops a HEAD body but logs a warning for each one: send the length, not the body.
            request.setHeader(b"content-length", b"%d" % len(body))
            return b""
        return body

    def _metrics_later(self, request: Request, off_thread: OffThread) -> int:
        gone: list[object] = []
        request.notifyFinish().addErrback(gone.append)  # the client left: nothing to write

        def answer(result: bytes | Failure) -> None:
            if gone:
                return
            if isinstance(result, Failure):
                log.error("bug: building /metrics failed: %s", result.getTraceback())
                reply = _error(500, "internal error")
            elif len(result) > MAX_METRICS_BYTES:
                reply = _error(503, f"the metrics are {len(result)} bytes, over the {MAX_METRICS_BYTES}-byte "
                                    "cap of /metrics: read them from Graphite")
            else:
                reply = (200, _JSON, result)
            request.write(self._respond(request, *reply))
            request.finish()

        off_thread(lambda: snapshot_json(self._registry)).addBoth(answer)
        return NOT_DONE_YET

    def _unaccounted(self, path: bytes) -> tuple[int, bytes, bytes]:
        if path == b"/healthz":
            return 200, _TEXT, b"ok"
        return 200, _JSON, snapshot_json(self._registry)

    def _answer(self, request: Request, path: bytes) -> tuple[int, bytes, bytes]:
        try:
            if request.method not in _READ_METHODS:
                self._bad_requests.inc()
                request.setHeader(b"allow", b"GET, HEAD")
                return _error(405, f"method {request.method.decode('latin-1')[:16]!r} not allowed; use GET")
            if path != b"/":
                self._not_found.inc()
                shown = path[:_SHOWN_PATH_BYTES].decode("utf-8", "backslashreplace")
                return _error(404, f"no such path: {shown!r}; try / or /?{WORLD_SIZE}=42")
            try:
                world_size = parse_world_size((request.uri or b"").partition(b"?")[2])
            except BadRequest as bad:
                self._bad_requests.inc()
                return _error(400, bad.detail)
            if world_size is None:
                return 200, _TEXT, b"HelloWorld"
            self._world_size.update(world_size)
            fields = self._world_size.snapshot().fields()
            return 200, _JSON, json.dumps(fields, allow_nan=False).encode("ascii")
        except Exception:
            log.exception("bug: unexpected error answering %r", request)
            return _error(500, "internal error")

    def refused(self, status: int) -> None:
        """Account a malformed request the HTTP edge answered with ``status`` before it reached :meth:`render`.

        Timed like any other request: its handling was the refusal.
        """
        timing = self._requests.time()
        self._bad_requests.inc()
        timing.stop()
        self._account(status)

    def _account(self, status: int) -> None:
        self._hello_called.inc()
        counter = self._responses.get(status)
        if counter is None:
            counter = self._responses[status] = self._registry.counter(f"responses.{status}")
        counter.inc()
