#!/usr/bin/env python3
"""gazette's loopback HTTP test server (Python 3 standard library only).

Scriptable per host and path. A route is a dict; every key is optional:

  status         HTTP status (200)
  body           bytes or str; file: read from this path instead
  headers        extra response headers, a dict
  etag, last_modified
                 validators sent; a request presenting them (If-None-Match
                 / If-Modified-Since) gets 304 with no body
  gzip           compress the body when the client accepts gzip
  location       a Location header (with status 301/302/307/308)
  retry_after    a Retry-After header (int seconds or an HTTP-date string)
  delay          seconds to wait before answering
  drip           (n, seconds): send the body n bytes at a time
  hang           never answer (until the server stops)
  reset_after    send the headers and this many body bytes, then reset
                 the connection (RST)
  endless        a body that never ends (no Content-Length)
  size           a body of this many bytes (an RSS feed padded to size)
  stream         a function returning an iterable of byte chunks: the body,
                 made as it is sent (no Content-Length, connection closed
                 at its end), so that huge bodies need no memory
  stream_gzip    gzip the stream as it is sent (Content-Encoding: gzip,
                 whatever the client accepts): a gzip bomb from a stream
                 of repeated bytes
  content_length a Content-Length header that lies (sent instead of the
                 body's own length)
  sequence       a list of routes, one per request; the last repeats

Routes are keyed by path and optionally by host: set(path, route,
host="a.localhost") matches only requests whose Host (without port) is
a.localhost; libcurl resolves *.localhost to the loopback, so one server
plays several hosts. Every request is recorded (time, host, path, headers),
and the peak number of requests in progress per host is kept.

Use in-process (tests import it) or run it: `httpd.py [PORT]` serves the
directory given by --root with ETag/Last-Modified, printing the port.
"""

import email.utils
import gzip as gzip_mod
import hashlib
import os
import socket
import struct
import sys
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def rss(title, items, extra="", link_base="http://example.org/",
        guids=True):
    """An RSS 2.0 document: items is a list of (guid, title) pairs; each
    item links to link_base + guid, and has a <guid> when guids."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0">'
           '<channel><title>%s</title><link>%s</link>'
           '<description>test</description>%s' % (title, link_base, extra)]
    for guid, t in items:
        out.append('<item>%s<title>%s</title>'
                   '<link>%s%s</link>'
                   '<pubDate>Mon, 02 Jan 2006 15:04:05 GMT</pubDate>'
                   '</item>' % ("<guid>%s</guid>" % guid if guids else "",
                                t, link_base, guid))
    out.append('</channel></rss>\n')
    return "".join(out).encode()


HTML_PAGE = (b"<!DOCTYPE html><html><head><title>Just a moment...</title>"
             b"</head><body><p>Checking your browser</p></body></html>\n")


class Server:
    """The server: start() on 127.0.0.1 with a free port, stop() after."""

    def __init__(self):
        self.routes = {}
        self.counters = {}
        self.requests = []
        self.inflight = {}
        self.peak = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.httpd = None
        self.port = None
        self.thread = None

    # ---- scripting ----
    def set(self, path, route, host=None):
        with self.lock:
            self.routes[(host, path)] = route
            self.counters[(host, path)] = 0

    def url(self, path, host="127.0.0.1"):
        return "http://%s:%d%s" % (host, self.port, path)

    def hits(self, path=None, host=None):
        with self.lock:
            return [r for r in self.requests
                    if (path is None or r["path"] == path)
                    and (host is None or r["host"] == host)]

    def clear_log(self):
        with self.lock:
            self.requests = []
            self.peak = {}

    # ---- life ----
    def start(self):
        srv = self

        class Handler(_Handler):
            server_obj = srv

        self.httpd = _Quiet(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.stopping.set()
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()

    # ---- used by the handler ----
    def route_for(self, host, path):
        with self.lock:
            key = (host, path) if (host, path) in self.routes else (None, path)
            route = self.routes.get(key)
            if route is None:
                return None
            seq = route.get("sequence")
            if seq:
                n = self.counters[key]
                self.counters[key] = n + 1
                return seq[min(n, len(seq) - 1)]
            return route

    def enter(self, host, record):
        with self.lock:
            self.requests.append(record)
            n = self.inflight.get(host, 0) + 1
            self.inflight[host] = n
            self.peak[host] = max(self.peak.get(host, 0), n)

    def leave(self, host):
        with self.lock:
            self.inflight[host] -= 1


class _Quiet(ThreadingHTTPServer):
    """Clients that hang up (as gazetted does when it cuts a transfer)
    are normal here, not worth a traceback."""

    # listen()'s backlog, read by the constructor: set on an instance it
    # came too late, and the default 5 dropped the SYNs of a burst of
    # connections (retried after 1 s, 3 s: a healthy feed "too slow").
    request_queue_size = 1024

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if not isinstance(exc, (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_obj = None

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        srv = self.server_obj
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].lower()
        path = self.path
        record = {"time": time.time(), "host": host, "path": path,
                  "headers": {k.lower(): v for k, v in self.headers.items()}}
        srv.enter(host, record)
        try:
            self.answer(srv, srv.route_for(host, path), record)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            srv.leave(host)

    def answer(self, srv, route, record):
        if route is None:
            self.send_error(404)
            return
        if route.get("delay"):
            if srv.stopping.wait(route["delay"]):
                return
        if route.get("hang"):
            srv.stopping.wait()
            self.close_connection = True
            return
        status = route.get("status", 200)
        body = route.get("body", b"")
        if "file" in route:
            with open(route["file"], "rb") as f:
                body = f.read()
        if "size" in route:
            # A feed padded to size bytes by a comment after its root.
            body = rss("big", [("big-1", "one")])
            body += b"<!--" + b"x" * max(0, route["size"] - len(body) - 7) \
                + b"-->"
        if isinstance(body, str):
            body = body.encode()
        headers = dict(route.get("headers", {}))
        etag, lm = route.get("etag"), route.get("last_modified")
        if etag:
            headers["ETag"] = etag
        if lm:
            headers["Last-Modified"] = lm
        if route.get("location"):
            headers["Location"] = route["location"]
        if route.get("retry_after") is not None:
            headers["Retry-After"] = str(route["retry_after"])
        inm = self.headers.get("If-None-Match")
        ims = self.headers.get("If-Modified-Since")
        if status == 200 and ((etag and inm == etag) or
                              (lm and not inm and ims == lm)):
            self.send_response(304)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if route.get("gzip") and "gzip" in self.headers.get(
                "Accept-Encoding", ""):
            body = gzip_mod.compress(body)
            headers["Content-Encoding"] = "gzip"
        self.send_response(status)
        headers.setdefault("Content-Type", "application/rss+xml")
        for k, v in headers.items():
            self.send_header(k, v)
        if route.get("stream"):
            self.stream(srv, route)
            return
        if route.get("endless"):
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            chunk = b"<!--" + b"x" * 65536 + b"-->\n"
            self.wfile.write(b'<?xml version="1.0"?>\n<rss version="2.0">'
                             b"<channel><title>endless</title>")
            while not srv.stopping.is_set():
                self.wfile.write(chunk)
            return
        self.send_header("Content-Length",
                         str(route.get("content_length", len(body))))
        self.end_headers()
        if route.get("reset_after") is not None:
            self.wfile.write(body[:route["reset_after"]])
            self.wfile.flush()
            # RST instead of FIN: linger on, timeout 0.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.close_connection = True
            return
        if route.get("drip"):
            n, every = route["drip"]
            for i in range(0, len(body), n):
                self.wfile.write(body[i:i + n])
                self.wfile.flush()
                if srv.stopping.wait(every):
                    return
            return
        self.wfile.write(body)

    def stream(self, srv, route):
        """Send route["stream"]()'s chunks as they come, gzipped on the
        fly when stream_gzip; the headers were started by the caller."""
        z = None
        if route.get("stream_gzip"):
            z = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: gzip wrapper
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        for chunk in route["stream"]():
            if srv.stopping.is_set():
                return
            if z:
                chunk = z.compress(chunk)
            if chunk:
                self.wfile.write(chunk)
        if z:
            self.wfile.write(z.flush())
        self.wfile.flush()


def static_route(path):
    """A route serving a file with its ETag and Last-Modified."""
    st = os.stat(path)
    with open(path, "rb") as f:
        h = hashlib.sha1(f.read()).hexdigest()[:16]
    return {"file": path, "etag": '"%s"' % h,
            "last_modified": email.utils.formatdate(st.st_mtime,
                                                    usegmt=True)}


def main():
    root = "."
    args = sys.argv[1:]
    if len(args) >= 2 and args[0] == "--root":
        root = args[1]
    srv = Server().start()
    for dirpath, _, files in os.walk(root):
        for name in files:
            full = os.path.join(dirpath, name)
            srv.set("/" + os.path.relpath(full, root), static_route(full))
    print(srv.port, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        srv.stop()


if __name__ == "__main__":
    main()
