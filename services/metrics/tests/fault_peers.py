"""Peers on 127.0.0.1 that misbehave the way real networks do, for delivery tests.

Each runs on daemon threads, is bounded (it stops with ``close()``), and records what it received.
"""

from __future__ import annotations

import select
import socket
import struct
import threading
import time


def _listener(rcvbuf: int | None = None, backlog: int = 16) -> socket.socket:
    sock = socket.socket()
    if rcvbuf is not None:  # inherited by accepted sockets: a small window, a slow network
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.bind(("127.0.0.1", 0))
    sock.listen(backlog)
    return sock


def reset(sock: socket.socket) -> None:
    """Close with a RST (SO_LINGER 0), as a crashing or impatient peer does."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


class Peer:
    def __init__(self, rcvbuf: int | None = None, backlog: int = 16) -> None:
        self.listener = _listener(rcvbuf, backlog)
        self.port = int(self.listener.getsockname()[1])
        self.connections: list[socket.socket] = []
        self.received: list[bytes] = []  # per connection
        self._stop = threading.Event()
        self._lock = threading.Lock()

    def serve(self) -> Peer:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            with self._lock:
                self.connections.append(connection)
                self.received.append(b"")
                index = len(self.received) - 1
            threading.Thread(target=self.handle, args=(connection, index), daemon=True).start()

    def keep(self, index: int, data: bytes) -> None:
        with self._lock:
            self.received[index] += data

    def handle(self, connection: socket.socket, index: int) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self._stop.set()
        for sock in [self.listener, *self.connections]:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()


class IdleClosingProxy(Peer):
    """Forwards to ``target`` and closes a client connection (FIN) after ``idle`` seconds without data,
    like a load balancer or proxy whose idle timeout is shorter than the report interval."""

    def __init__(self, target: int, idle: float) -> None:
        super().__init__()
        self.target = target
        self.idle = idle
        self.closed = 0
        """Client connections closed so far."""

    def handle(self, connection: socket.socket, index: int) -> None:
        upstream = socket.create_connection(("127.0.0.1", self.target), timeout=5)
        try:
            while not self._stop.is_set():
                readable, _, _ = select.select([connection], [], [], self.idle)
                if not readable:
                    return  # idle: close both sides
                data = connection.recv(65536)
                if not data:
                    return
                self.keep(index, data)
                upstream.sendall(data)
        except OSError:
            return
        finally:
            connection.close()
            upstream.close()
            with self._lock:
                self.closed += 1


class ResetAfterRead(Peer):
    """The first connection takes a window of data (a small receive buffer, never read), then,
    once the sender is stuck on the full window, keeps what its kernel acknowledged (peeked, so the
    window stays shut) and resets. Every later connection reads everything."""

    def __init__(self, rcvbuf: int = 4096, settle: float = 0.2) -> None:
        super().__init__(rcvbuf)
        self.settle = settle

    def handle(self, connection: socket.socket, index: int) -> None:
        try:
            if index == 0:
                queued, deadline = -1, time.monotonic() + 10
                while time.monotonic() < deadline:  # until the window is full: the queue stops growing
                    time.sleep(self.settle)
                    now = len(connection.recv(1 << 20, socket.MSG_PEEK | socket.MSG_DONTWAIT) or b"") \
                        if select.select([connection], [], [], 0)[0] else 0
                    if now and now == queued:
                        break
                    queued = now
                self.keep(0, connection.recv(1 << 20, socket.MSG_PEEK))
                reset(connection)
                return
            while data := connection.recv(65536):
                self.keep(index, data)
        except OSError:
            return


class SlowReader(Peer):
    """Reads ``rate`` bytes a second in 1 KB steps through a small window: a congested carbon."""

    def __init__(self, rate: int, rcvbuf: int = 4096) -> None:
        super().__init__(rcvbuf)
        self.rate = rate

    def handle(self, connection: socket.socket, index: int) -> None:
        try:
            while not self._stop.is_set():
                data = connection.recv(1024)
                if not data:
                    return
                self.keep(index, data)
                time.sleep(len(data) / self.rate)
        except OSError:
            return


class NeverAccepts(Peer):
    """A listener whose application never accepts: the kernel completes the handshake and takes a
    window of data, then nothing more (a hung carbon). ``serve()`` is not called."""

    def __init__(self, rcvbuf: int = 4096) -> None:
        super().__init__(rcvbuf, backlog=4)


class BlackHole(Peer):
    """Accepts and never reads (a peer whose application hangs): a window of data, then nothing."""

    def __init__(self, rcvbuf: int = 4096) -> None:
        super().__init__(rcvbuf)

    def handle(self, connection: socket.socket, index: int) -> None:
        self._stop.wait()
