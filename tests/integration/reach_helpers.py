"""Helpers for the push and webhook tests: a local HTTP service on loopback that records every
request and answers as the test says (a push service, a webhook receiver)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

WAIT = 20.0  # upper bound on any wait in these tests; never an expected duration


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes


Answer = tuple[int, dict[str, str]]
Responder = Callable[[Request], Answer]


class Receiver:
    """``ThreadingHTTPServer`` on 127.0.0.1; ``respond`` decides each answer (default 201)."""

    def __init__(self, respond: Responder | None = None, port: int = 0) -> None:
        self.respond: Responder = respond or (lambda request: (201, {}))
        self.requests: list[Request] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                size = int(self.headers.get("content-length") or 0)
                request = Request(self.command, self.path,
                                  {k.lower(): v for k, v in self.headers.items()},
                                  self.rfile.read(size))
                with receiver.lock:
                    receiver.requests.append(request)
                status, headers = receiver.respond(request)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", "0")
                self.end_headers()

            do_POST = do_GET = _handle

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port: int = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def taken(self) -> list[Request]:
        with self.lock:
            return list(self.requests)

    def wait_for(self, condition: Callable[[list[Request]], bool],
                 timeout: float = WAIT) -> list[Request]:
        """Poll (bounded) until ``condition(requests)``; the requests then."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            seen = self.taken()
            if condition(seen):
                return seen
            time.sleep(0.05)
        raise AssertionError(f"condition not met within {timeout} s; got {len(self.taken())} "
                             "requests")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> Receiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextlib.contextmanager
def trickler() -> Iterator[int]:
    """A server that answers one byte every 0.2 s, forever (until closed)."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.recv(65536)
                for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 100000:
                    if stop.wait(0.2):
                        break
                    try:
                        conn.sendall(bytes([byte]))
                    except OSError:
                        break

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        listener.close()
        thread.join(timeout=5)
