"""A TCP relay on loopback that delays every chunk by `delay` seconds each way: a link with
2 × `delay` of round-trip latency, as between real servers, for `benchmarks/postgres_trips.py`.

Each direction has a reader thread (recv, stamp the arrival) and a writer thread (send each
chunk at arrival + delay, in order), so chunks that arrive together leave together: a
pipeline stays one round trip. `time.sleep` keeps 0.5 ms to about 0.1 ms; an asyncio loop
would round each wait up to whole milliseconds. `spawn` runs it in a process of its own, so
it never waits for the benchmark's GIL.

    python -m benchmarks.relay HOST PORT DELAY    # prints the port it listens on
"""

from __future__ import annotations

import collections
import contextlib
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path


class _Pipe:
    """One direction of one connection."""

    def __init__(self, src: socket.socket, dst: socket.socket, delay: float) -> None:
        self.src, self.dst, self.delay = src, dst, delay
        self.queue: collections.deque[tuple[float, bytes]] = collections.deque()
        self.ready = threading.Condition()
        self.closed = False
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._write, daemon=True).start()

    def _read(self) -> None:
        try:
            while data := self.src.recv(1 << 16):
                with self.ready:
                    self.queue.append((time.perf_counter() + self.delay, data))
                    self.ready.notify()
        except OSError:
            pass
        with self.ready:
            self.closed = True
            self.ready.notify()

    def _write(self) -> None:
        try:
            while True:
                with self.ready:
                    while not self.queue and not self.closed:
                        self.ready.wait()
                    if not self.queue:
                        break
                    due, data = self.queue.popleft()
                wait = due - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
                self.dst.sendall(data)
        except OSError:
            pass
        with contextlib.suppress(OSError):
            self.dst.shutdown(socket.SHUT_WR)


def serve(host: str, port: int, delay: float) -> None:
    """Relay every connection made to a free loopback port to (host, port); print the port."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    print(server.getsockname()[1], flush=True)
    while True:
        client, _ = server.accept()
        upstream = socket.create_connection((host, port))
        for end in (client, upstream):
            end.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        _Pipe(client, upstream, delay)
        _Pipe(upstream, client, delay)


def spawn(host: str, port: int, *, delay: float) -> tuple[subprocess.Popen[str], int]:
    """The relay in a process of its own, and the port it listens on (`stop` it after)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.relay", host, str(port), str(delay)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert proc.stdout is not None
    return proc, int(proc.stdout.readline())


def stop(proc: subprocess.Popen[str]) -> None:
    """End a relay `spawn` started."""
    proc.terminate()
    proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]))
