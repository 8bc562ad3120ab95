"""The uninstrumented baseline: the classic twisted.web HelloWorld on 127.0.0.1:PORT.

Same ``Site`` settings as the service (no access log), so the benchmark compares instrumentation only.
"""

from __future__ import annotations

import sys

from twisted.internet import reactor
from twisted.web.resource import Resource
from twisted.web.server import Request, Site


class HelloWorld(Resource):
    isLeaf = True

    def render_GET(self, request: Request) -> bytes:
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        return b"HelloWorld"


class QuietSite(Site):
    noisy = False

    def log(self, request: Request) -> None:
        pass


if __name__ == "__main__":
    reactor.listenTCP(int(sys.argv[1]), QuietSite(HelloWorld()), interface="127.0.0.1")  # type: ignore[attr-defined]
    reactor.run()  # type: ignore[attr-defined]
