"""Blocking socket transports, used only from a reporter's sending thread.

One persistent connection per transport, opened lazily, with connect and send timeouts so a dead or
hung peer costs a bounded wait. ``send`` returns how much it wrote: a slow peer that takes some bytes
within the send timeout is making progress, and the rest is written by the next call, never the
whole message again. Two TCP facts make "sent" mean something: the first write after the peer has
closed is accepted by the kernel and silently lost, so :meth:`TcpTransport.peer_closed` is checked
before each report (carbon never writes to us: a readable socket means it closed); and on Linux
``TIOCOUTQ`` tells how many written bytes the peer has not acknowledged yet, still after a reset
or an error, until :meth:`~TcpTransport.close`.
"""

from __future__ import annotations

import ipaddress
import re
import select
import socket
import ssl
import struct
import sys
from typing import Protocol

from graphmetrics.forksafety import reset_after_fork

_TIOCOUTQ: int | None = None
if sys.platform.startswith("linux"):  # on a TCP socket: bytes not yet acknowledged by the peer
    import fcntl
    import termios

    _TIOCOUTQ = termios.TIOCOUTQ

__all__ = ["Transport", "TcpTransport", "UdpTransport", "MemoryTransport", "check_host", "check_port"]

_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)")


def check_host(host: object) -> str:
    """``host`` if it is an IP address or a DNS name (ASCII labels of 1-63 letters, digits, ``-``
    or ``_``, not starting or ending with ``-``; at most 253 characters; not all-numeric at the
    end); ``[v6]`` loses its brackets. Raises ``ValueError`` saying what is wrong, so a bad name
    stops a service at start instead of failing every send. The value itself is never echoed: it
    may be a secret pasted into the wrong variable."""
    if not isinstance(host, str):
        raise ValueError(f"a host must be a string, not {type(host).__name__}")
    literal = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        return str(ipaddress.ip_address(literal))
    except ValueError:
        pass
    name = host[:-1] if host.endswith(".") else host
    labels = name.split(".")
    problem = None
    if not name:
        problem = "it is empty"
    elif len(name) > 253:
        problem = f"it has {len(name)} characters (at most 253)"
    elif any(not label for label in labels):
        problem = "it has an empty label (two dots in a row, or a dot at the start)"
    elif any(len(label) > 63 for label in labels):
        problem = f"it has a label of {max(map(len, labels))} characters (at most 63)"
    elif not all(_LABEL.fullmatch(label) for label in labels):
        problem = "a label has a character other than [A-Za-z0-9_-], or starts or ends with '-'"
    elif labels[-1].isdigit():
        problem = "its last label is all digits (and it is no IP address)"
    if problem is not None:
        raise ValueError(f"a host must be an IP address or a DNS name: {problem}")
    return host


def check_port(port: object) -> int:
    """``port`` as an int within 1-65535, else ``ValueError``."""
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ValueError(f"a port must be an int within 1-65535, not {port!r}")
    return port


TLS_RECORD_BYTES = 16384 + 256
"""Most plaintext (and then some) one TLS record can hold: the peer decrypts no part of a record it
lacks a byte of, so on TLS that much more than the unacknowledged ciphertext is counted as unacknowledged."""


def _resolving(host: str) -> str:
    """The error message for an exception other than ``OSError`` out of name resolution (the IDNA
    codec raises ``UnicodeError``): it becomes a send failure with back-off, like any other."""
    return f"cannot resolve {host!r}"


class Transport(Protocol):
    """What a reporter sends through. ``send`` raises ``OSError`` on failure and returns the bytes it
    wrote (a stream may write part of ``data``; a datagram transport writes all of it).

    ``stream`` is True for a byte stream (TCP, TLS), where consecutive messages may be joined into
    one ``send``; False where each message must stay a unit of its own (UDP datagrams). After a
    failure or a close by the peer, ``unacked_bytes`` still answers for the lost connection until
    ``close()``.
    """

    stream: bool

    def send(self, data: bytes | memoryview, timeout: float | None = None) -> int: ...

    def peer_closed(self) -> bool: ...

    def unacked_bytes(self) -> int | None: ...

    def close(self) -> None: ...


def _timeout(configured: float, limit: float | None) -> float:
    return configured if limit is None else max(0.001, min(configured, limit))


class TcpTransport:
    """A TCP (or, with ``ssl_context``, TLS) connection to ``host:port``."""

    stream = True

    def __init__(
        self,
        host: str,
        port: int,
        connect_timeout: float = 5.0,
        send_timeout: float = 10.0,
        ssl_context: ssl.SSLContext | None = None,
        send_buffer_bytes: int | None = None,
        unacked_timeout: float = 60.0,
    ) -> None:
        self.host = check_host(host)
        self.port = check_port(port)
        self.connect_timeout = connect_timeout
        self.send_timeout = send_timeout
        self.ssl_context = ssl_context
        self.send_buffer_bytes = send_buffer_bytes
        """``SO_SNDBUF`` (None: the kernel's autotuning): bounds what a lost connection can hold unacknowledged."""
        self.unacked_timeout = max(unacked_timeout, send_timeout)
        """Linux ``TCP_USER_TIMEOUT``: a peer that acknowledges nothing for this long is dead. Longer
        than ``send_timeout``, or a slow peer's shut window (probes answered, data taken in bursts)
        would end connections that make progress."""
        self._sock: socket.socket | None = None
        self._broken = False
        self._written = 0  # bytes written to this connection
        reset_after_fork(self)

    def __repr__(self) -> str:
        kind = "tls" if self.ssl_context else "tcp"
        return f"<{type(self).__name__} {kind}://{self.host}:{self.port} connected={self._sock is not None}>"

    def _connect(self, timeout: float | None) -> socket.socket:
        try:
            sock = socket.create_connection((self.host, self.port), timeout=_timeout(self.connect_timeout, timeout))
        except (UnicodeError, ValueError) as exc:
            raise ConnectionError(f"{_resolving(self.host)}: {exc}") from None
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            if self.send_buffer_bytes is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.send_buffer_bytes)
            if hasattr(socket, "TCP_USER_TIMEOUT"):  # Linux: unacknowledged data errors out the connection
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, int(self.unacked_timeout * 1000))
            if self.ssl_context is not None:
                sock = self.ssl_context.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise
        return sock

    def send(self, data: bytes | memoryview, timeout: float | None = None) -> int:
        """Write some of ``data`` (at least one byte) and return how many; raise ``TimeoutError`` if
        the peer takes none within the send timeout (or ``timeout``), ``OSError`` on any error.

        After an error the connection is broken: the next ``send`` raises until :meth:`close`.
        """
        if self._broken:
            raise ConnectionError("the connection failed; close() it first")
        try:
            sock = self._sock
            if sock is None:
                sock = self._sock = self._connect(timeout)
                self._written = 0
            sock.settimeout(_timeout(self.send_timeout, timeout))
            written = sock.send(data)
        except BaseException:
            self._broken = self._sock is not None
            raise
        self._written += written
        return written

    def peer_closed(self) -> bool:
        """True if the peer closed or reset the connection; False if open or none. The connection
        stays until :meth:`close`, so :meth:`unacked_bytes` can still say what the peer lacks."""
        sock = self._sock
        if sock is None:
            return False
        if self._broken:
            return True
        try:
            readable, _, _ = select.select([sock], [], [], 0)
            if not readable:
                return False
            sock.settimeout(0.0)  # carbon and Hosted Graphite never send data: look at what arrived
            if isinstance(sock, ssl.SSLSocket):
                closed = not sock.recv(1)  # reads TLS records such as TLS 1.3 session tickets
            else:
                closed = not sock.recv(1, socket.MSG_PEEK)
        except (ssl.SSLWantReadError, BlockingIOError):  # only TLS housekeeping arrived
            closed = False
        except (OSError, ValueError):  # a reset, a TLS alert, a closed descriptor
            closed = True
        self._broken = closed
        return closed

    def unacked_bytes(self) -> int | None:
        """Bytes written to this connection that the peer has not acknowledged (Linux), or None when
        unknown. On TLS, the unacknowledged ciphertext plus one record (see ``TLS_RECORD_BYTES``)."""
        if self._sock is None or _TIOCOUTQ is None:
            return None
        try:
            raw = fcntl.ioctl(self._sock.fileno(), _TIOCOUTQ, b"\0\0\0\0")
        except (OSError, ValueError):
            return None
        unacked = int(struct.unpack("i", raw)[0])
        if self.ssl_context is not None and unacked:
            unacked += TLS_RECORD_BYTES
        return min(unacked, self._written)

    def close(self) -> None:
        sock, self._sock = self._sock, None
        self._broken = False
        self._written = 0
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass

    def after_fork_in_child(self) -> None:
        self.close()  # closes only the child's copy of the descriptor: the parent's connection lives on


class UdpTransport:
    """UDP datagrams to ``host:port``: nothing is acknowledged, so nothing can be re-sent."""

    stream = False

    def __init__(self, host: str, port: int) -> None:
        self.host = check_host(host)
        self.port = check_port(port)
        self._sock: socket.socket | None = None
        reset_after_fork(self)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} udp://{self.host}:{self.port}>"

    def send(self, data: bytes | memoryview, timeout: float | None = None) -> int:
        try:
            if self._sock is None:
                try:
                    family, kind, proto, _, address = socket.getaddrinfo(
                        self.host, self.port, type=socket.SOCK_DGRAM
                    )[0]
                except (UnicodeError, ValueError) as exc:
                    raise ConnectionError(f"{_resolving(self.host)}: {exc}") from None
                sock = socket.socket(family, kind, proto)
                try:
                    sock.connect(address)  # a connected UDP socket reports ICMP errors as OSError
                except BaseException:
                    sock.close()
                    raise
                self._sock = sock
            return self._sock.send(data)
        except BaseException:
            self.close()
            raise

    def peer_closed(self) -> bool:
        return False

    def unacked_bytes(self) -> int | None:
        return None

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()

    def after_fork_in_child(self) -> None:
        self.close()


class MemoryTransport:
    """Keeps what it is sent, and fails or closes on demand: the test double (like Twisted's
    ``StringTransport``) for code that drives a reporter."""

    def __init__(self, stream: bool = False) -> None:
        self.stream = stream
        """False (the default): every message arrives in ``sent`` as it was encoded."""
        self.sent: list[bytes] = []
        self.failure: OSError | None = None
        """When set, every ``send`` raises it (a dead peer)."""
        self.unacked: int | None = None
        """What :meth:`unacked_bytes` reports for the current (or just lost) connection."""
        self.at_most: int | None = None
        """When set, a stream ``send`` writes at most this many bytes (a slow peer)."""
        self.connects = 0
        self.connected = False
        self._closed_by_peer = False

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {len(self.sent)} message(s) sent>"

    def close_by_peer(self) -> None:
        """Simulate the peer closing the connection (noticed by the next :meth:`peer_closed`)."""
        self._closed_by_peer = self.connected

    def send(self, data: bytes | memoryview, timeout: float | None = None) -> int:
        if self.failure is not None:
            raise self.failure
        if not self.connected:
            self.connects += 1
            self.connected = True
        data = bytes(data)
        if self.stream and self.at_most is not None:
            data = data[: self.at_most]
        self.sent.append(data)
        return len(data)

    def peer_closed(self) -> bool:
        return self._closed_by_peer

    def unacked_bytes(self) -> int | None:
        return self.unacked if self.connected else None

    def close(self) -> None:
        self.connected = False
        self._closed_by_peer = False
