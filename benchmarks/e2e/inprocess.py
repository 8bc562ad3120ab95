"""Handler cost without the network: CPU time per request through Twisted's HTTP stack, in memory.

Each request goes as raw bytes through a ``Site``'s own ``HTTPChannel`` on a ``StringTransport``, so this
counts HTTP parsing, the resource and response writing, but no syscalls and no other process. Variants
alternate in short batches and the best batch of each is kept: interference only ever adds time, so the
minimum is the cleanest estimate on a shared machine. Prints one JSON object: µs of CPU per request.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable

from plain_server import HelloWorld, QuietSite
from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.web.resource import Resource

from graphmetrics.registry import MetricsRegistry
from helloworld.web import HelloWorldResource


def client(resource: Resource, targets: list[bytes]) -> Callable[[int], None]:
    site = QuietSite(resource, reactor=Clock())
    requests = [b"GET " + target + b" HTTP/1.1\r\nHost: bench\r\n\r\n" for target in targets]
    address = IPv4Address("TCP", "127.0.0.1", 40000)

    def run(count: int) -> None:
        channel = site.buildProtocol(address)
        transport = StringTransport()
        channel.makeConnection(transport)
        for index in range(count):  # keep-alive: one connection, like wrk's
            channel.dataReceived(requests[index % len(requests)])
            transport.clear()
        channel.connectionLost(None)

    return run


def main(batches: int, per_batch: int) -> dict[str, float]:
    sizes = [b"/?world_size=%d" % int(10 ** (i % 50 / 10)) for i in range(50)]
    variants = {
        "plain": client(HelloWorld(), [b"/"]),
        "instrumented": client(HelloWorldResource(MetricsRegistry()), [b"/"]),
        "instrumented, /?world_size=N": client(HelloWorldResource(MetricsRegistry()), sizes),
    }
    best = {name: float("inf") for name in variants}
    for _ in range(batches):
        for name, run in variants.items():
            started = time.process_time()
            run(per_batch)
            best[name] = min(best[name], (time.process_time() - started) / per_batch * 1e6)
    return best


if __name__ == "__main__":
    batches, per_batch = (int(arg) for arg in sys.argv[1:3])
    print(json.dumps(main(batches, per_batch)))
