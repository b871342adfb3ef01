"""Helpers for the publishers' tests: a TCP proxy that loses answers, and a feed server.

Both listen on 127.0.0.1 only, run in daemon threads, and stop when their ``close`` is called
(or their ``with`` block ends).
"""

from __future__ import annotations

import contextlib
import email.utils
import hashlib
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class LossyProxy:
    """Forwards TCP connections to ``127.0.0.1:target``; can lose answers and cut connections.

    ``lose_answers(n)``: the next ``n`` answers from the server are thrown away and both sides of
    their connection closed — the server did the work, the client never hears of it.
    ``cut()``: close every open connection now (a dropped stream).
    """

    def __init__(self, target: int) -> None:
        self.target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._to_lose = 0
        self.lost = 0  # answers thrown away
        self.connections = 0  # connections accepted
        self._open: set[socket.socket] = set()
        self._closed = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def lose_answers(self, count: int = 1) -> None:
        with self._lock:
            self._to_lose = count

    def cut(self) -> int:
        """Close every open connection; return how many there were."""
        with self._lock:
            sockets = list(self._open)
            self._open.clear()
        for sock in sockets:
            _shut(sock)
        return len(sockets) // 2

    def close(self) -> None:
        self._closed = True
        _shut(self._listener)
        self.cut()
        self._thread.join(timeout=5)

    def __enter__(self) -> LossyProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _accept(self) -> None:
        self._listener.settimeout(0.2)
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target), timeout=5)
            except OSError:
                _shut(client)
                continue
            upstream.settimeout(None)
            client.settimeout(None)
            with self._lock:
                self.connections += 1
                self._open.update((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream, False),
                             daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, True),
                             daemon=True).start()

    def _take_loss(self) -> bool:
        with self._lock:
            if self._to_lose > 0:
                self._to_lose -= 1
                self.lost += 1
                return True
            return False

    def _pump(self, source: socket.socket, sink: socket.socket, answers: bool) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if answers and self._take_loss():
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                self._open.discard(source)
                self._open.discard(sink)
            _shut(source)
            _shut(sink)


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


@dataclass
class Hit:
    path: str
    status: int
    if_none_match: str | None
    if_modified_since: str | None


@dataclass
class Document:
    body: bytes
    content_type: str
    etag: str
    last_modified: str
    status: int = 200  # anything else: answered with this status and no body


@dataclass
class FeedServer:
    """Serves feed documents with ETag and Last-Modified, answering ``304`` when they match.

    ``validators=False`` serves without either (every GET is a full ``200``).
    """

    validators: bool = True
    documents: dict[str, Document] = field(default_factory=dict)
    hits: list[Hit] = field(default_factory=list)
    _version: int = 0

    def put(self, path: str, body: bytes | str, content_type: str = "application/rss+xml",
            status: int = 200) -> None:
        data = body.encode() if isinstance(body, str) else body
        self._version += 1
        etag = '"' + hashlib.sha256(data).hexdigest()[:16] + '"'
        modified = email.utils.formatdate(1_780_000_000 + self._version, usegmt=True)
        self.documents[path] = Document(data, content_type, etag, modified, status)

    def statuses(self, path: str) -> list[int]:
        return [h.status for h in self.hits if h.path == path]

    @contextlib.contextmanager
    def running(self) -> Iterator[str]:
        """Serve on a free loopback port; yield the base URL."""
        feeds = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                doc = feeds.documents.get(self.path)
                inm = self.headers.get("If-None-Match")
                ims = self.headers.get("If-Modified-Since")
                if doc is None:
                    status, body, headers = 404, b"no such feed", {"Content-Type": "text/plain"}
                elif doc.status != 200:
                    status, body, headers = doc.status, b"", {}
                elif feeds.validators and (inm == doc.etag or (inm is None and
                                                                ims == doc.last_modified)):
                    status, body, headers = 304, b"", {"ETag": doc.etag}
                else:
                    status, body = 200, doc.body
                    headers = {"Content-Type": doc.content_type}
                    if feeds.validators:
                        headers.update({"ETag": doc.etag, "Last-Modified": doc.last_modified})
                feeds.hits.append(Hit(self.path, status, inm, ims))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if body:
                    self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                  daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)


def rss(items: list[dict[str, str]], title: str = "Agency Wire") -> str:
    """An RSS 2.0 document; each item dict may have title, guid, link, pubDate, category,
    description."""
    parts = []
    for item in items:
        fields = "".join(f"<{k}>{_xml(v)}</{k}>" for k, v in item.items())
        parts.append(f"<item>{fields}</item>")
    return ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>{_xml(title)}</title><link>https://wire.example/</link>"
            f"<description>test</description>{''.join(parts)}</channel></rss>")


def atom(entries: list[dict[str, str]], title: str = "Atom Desk") -> str:
    """An Atom 1.0 document; each entry dict has id, title, updated, and optionally link,
    title_type."""
    parts = []
    for entry in entries:
        kind = entry.get("title_type", "text")
        link = f'<link href="{_xml(entry["link"])}"/>' if "link" in entry else ""
        parts.append(f"<entry><id>{_xml(entry['id'])}</id>"
                     f'<title type="{kind}">{_xml(entry["title"])}</title>'
                     f"<updated>{entry['updated']}</updated>{link}</entry>")
    return ('<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            f"<title>{_xml(title)}</title><id>urn:test:atom</id>"
            f"<updated>2026-11-25T10:00:00Z</updated>{''.join(parts)}</feed>")


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
