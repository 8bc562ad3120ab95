"""The project's seed, a Twisted "HelloWorld" written for pyformance under Python 2, run on graphmetrics.

The seed's source is not in this repository; this is its program as issue 14 describes it (its
imports, ``hello_called``, ``world_size``, the fork's ``HostedGraphiteReporter(registry, 10, key)``).
Changed from it, and nothing else: ``pyformance`` imports renamed to
``graphmetrics.compat.pyformance``; what Python 3 requires (``request.args`` has bytes keys, a
resource returns bytes); and where it reports, taken from the environment instead of the source:

- ``HOSTEDGRAPHITE_API_KEY``: the key (every metric's first path node);
- ``HOSTEDGRAPHITE_HOST``, ``HOSTEDGRAPHITE_PORT``: Hosted Graphite's carbon endpoint (its default
  when unset), or a local carbon-cache's line receiver;
- ``HOSTEDGRAPHITE_TRANSPORT``: ``tls``, ``tcp`` (plaintext, e.g. to a local carbon) or ``udp``; the
  reporter's default when unset;
- ``PORT``: where it listens (8888).

Run it and ask ``http://localhost:8888/?world_size=42``: it counts ``hello_called``, adds 42 to the
``world_size`` histogram, answers with the histogram's metrics as JSON, and reports every 10 s.
"""

import json
import os

from twisted.internet import reactor
from twisted.web import resource, server

from graphmetrics.compat.pyformance.meters import Counter, Histogram, Meter, Timer  # noqa: F401 - the seed's imports
from graphmetrics.compat.pyformance.registry import MetricsRegistry
from graphmetrics.compat.pyformance.reporters import HostedGraphiteReporter

API_KEY = os.environ["HOSTEDGRAPHITE_API_KEY"]
ENDPOINT = {}  # only what is set: the reporter's own defaults otherwise
if os.environ.get("HOSTEDGRAPHITE_HOST"):
    ENDPOINT["host"] = os.environ["HOSTEDGRAPHITE_HOST"]
if os.environ.get("HOSTEDGRAPHITE_PORT"):
    ENDPOINT["port"] = int(os.environ["HOSTEDGRAPHITE_PORT"])
if os.environ.get("HOSTEDGRAPHITE_TRANSPORT"):
    ENDPOINT["transport"] = os.environ["HOSTEDGRAPHITE_TRANSPORT"]


class HelloWorld(resource.Resource):
    isLeaf = True

    def render_GET(self, request):
        metricsRegistry.counter("hello_called").inc()
        world_size = request.args[b"world_size"][0]
        histogram = metricsRegistry.histogram("world_size")
        histogram.add(int(world_size))
        request.setResponseCode(200)
        return json.dumps(metricsRegistry._get_histogram_metrics("world_size")).encode()


if __name__ == "__main__":
    metricsRegistry = MetricsRegistry()
    reporter = HostedGraphiteReporter(metricsRegistry, 10, API_KEY, **ENDPOINT)
    reporter.start()
    site = server.Site(HelloWorld())
    reactor.listenTCP(int(os.environ.get("PORT", "8888")), site)
    reactor.run()
