"""Reporting to carbon (carbon-cache, carbon-relay, carbon-aggregator) over pickle, plaintext or UDP."""

from __future__ import annotations

import functools

from graphmetrics.clock import Clock
from graphmetrics.readout import PICKLE_FRAME_BYTES, STREAM_MESSAGE_BYTES
from graphmetrics.reporters.backoff import Backoff
from graphmetrics.reporters.batching import BatchReporter, Encoder, Registry
from graphmetrics.reporters.buffer import DEFAULT_MAX_BYTES
from graphmetrics.reporters.transport import TcpTransport, Transport, UdpTransport
from graphmetrics.reporters.wire import FRAMES, LINES, MAX_DATAGRAM_BYTES, pickle_frames, plaintext_messages

__all__ = ["CarbonReporter", "PROTOCOLS"]

PROTOCOLS = {"pickle": 2004, "plaintext": 2003, "udp": 2003}
"""Supported protocols and carbon's default port for each."""


class CarbonReporter(BatchReporter):
    """Sends each report in one batch to carbon: pickle frames (default), plaintext lines, or UDP.

    TCP protocols keep unsent reports (up to ``max_buffer_bytes``) and re-send them in order with
    their original timestamps; UDP is best effort (a datagram nobody receives is not noticed).
    """

    def __init__(
        self,
        registry: Registry,
        host: str = "localhost",
        port: int | None = None,
        protocol: str = "pickle",
        prefix: str = "",
        *,
        connect_timeout: float = 5.0,
        send_timeout: float = 10.0,
        export_buckets: bool = False,
        max_buffer_bytes: int = DEFAULT_MAX_BYTES,
        pickle_frame_bytes: int = PICKLE_FRAME_BYTES,
        backoff: Backoff | None = None,
        clock: Clock | None = None,
        name: str = "carbon",
    ) -> None:
        if protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {sorted(PROTOCOLS)}, not {protocol!r}")
        self.protocol = protocol
        port = PROTOCOLS[protocol] if port is None else port
        transport: Transport
        encode: Encoder
        if protocol == "udp":
            transport = UdpTransport(host, port)
            encode = functools.partial(plaintext_messages, max_bytes=MAX_DATAGRAM_BYTES)
        else:
            transport = TcpTransport(host, port, connect_timeout, send_timeout)
            if protocol == "pickle":
                encode = functools.partial(pickle_frames, max_frame_bytes=pickle_frame_bytes)
            else:
                encode = functools.partial(plaintext_messages, max_bytes=STREAM_MESSAGE_BYTES)
        super().__init__(
            registry, transport, encode, name=name, prefix=prefix, export_buckets=export_buckets,
            max_buffer_bytes=max_buffer_bytes, backoff=backoff, clock=clock,
            framing=FRAMES if protocol == "pickle" else LINES,
        )
