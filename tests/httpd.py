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
  stall_after    send the headers (with the whole body's Content-Length)
                 and this many body bytes, then nothing more, the
                 connection open (a body that stalls half way)

Routes are keyed by path and optionally by host: set(path, route,
host="a.localhost") matches only requests whose Host (without port) is
a.localhost; libcurl resolves *.localhost to the loopback, so one server
plays several hosts. Every request is recorded (time, host, path, headers),
and the peak number of requests in progress per host is kept.

Beside the routes, for the failure tests (issue 14):

  Server(tls=(certfile, keyfile))
                 the same server over TLS (handshake in the connection's
                 thread); url() then says https. make_pki() makes a
                 throwaway CA and certificates with the openssl CLI.
  Server.doh(path, names)
                 a DNS-over-HTTPS responder (RFC 8484, POST and GET,
                 application/dns-message) at path, answering A queries
                 for the names in `names` (name -> IPv4); doh_queries
                 lists (name, qtype) asked.
  Blackhole()    accepts connections and never answers (nor closes).
  Socks5()       a SOCKS5 proxy (no auth, CONNECT, IPv4 or domain
                 names, i.e. socks5:// and socks5h://) that sends every
                 connection to 127.0.0.1 (a domain name to the address
                 in its `names`, default 127.0.0.1) and records
                 (host, port) of each in `connects`.
  CHALLENGE_PAGE, PARKED_PAGE
                 an HTML challenge page, and a parked domain's page.

Use in-process (tests import it) or run it: `httpd.py [PORT]` serves the
directory given by --root with ETag/Last-Modified, printing the port.
"""

import base64
import email.utils
import gzip as gzip_mod
import hashlib
import os
import select
import socket
import ssl
import struct
import subprocess
import sys
import threading
import urllib.parse
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

# What a bot-protection service sends (with 403, 429 or 503).
CHALLENGE_PAGE = (
    b"<!DOCTYPE html><html lang=\"en-US\"><head><title>Just a moment..."
    b"</title><meta http-equiv=\"refresh\" content=\"390\"></head><body>"
    b"<div id=\"cf-chl-widget\">Checking your browser before accessing "
    b"the site.</div><script src=\"/cdn-cgi/challenge-platform/h/g/orchestrate"
    b"/chl_page/v1\"></script></body></html>\n")

# A parked domain: valid HTML, 200, no feed.
PARKED_PAGE = (
    b"<!DOCTYPE html><html><head><title>example-news.com is for sale"
    b"</title></head><body><h1>This domain may be for sale</h1><p>Related "
    b"searches: news, weather</p></body></html>\n")


def make_pki(directory, certs):
    """A throwaway CA in directory and a certificate it signs for each
    entry of certs, {label: [names...]} (DNS names, or IP addresses).
    Returns {"ca": ca.pem, label: (cert.pem, key.pem), ...}. Needs the
    openssl command (tests/deps.sh installs it)."""
    def run(*args):
        subprocess.run(["openssl"] + list(args), check=True,
                       capture_output=True, cwd=directory, timeout=60)

    out = {"ca": os.path.join(directory, "ca.pem")}
    run("req", "-x509", "-newkey", "ec", "-pkeyopt",
        "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "ca.key",
        "-out", "ca.pem", "-days", "2", "-subj", "/CN=gazette test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    for label, names in certs.items():
        san = ",".join(("IP:" if _is_ip(n) else "DNS:") + n for n in names)
        with open(os.path.join(directory, label + ".ext"), "w") as f:
            f.write("subjectAltName=%s\nbasicConstraints=CA:FALSE\n"
                    "extendedKeyUsage=serverAuth\n" % san)
        run("req", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
            label + ".key", "-out", label + ".csr", "-subj",
            "/CN=" + names[0])
        run("x509", "-req", "-in", label + ".csr", "-CA", "ca.pem",
            "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
            "-out", label + ".pem", "-extfile", label + ".ext")
        out[label] = (os.path.join(directory, label + ".pem"),
                      os.path.join(directory, label + ".key"))
    return out


def _is_ip(s):
    for fam in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(fam, s)
            return True
        except OSError:
            pass
    return False


def dns_name(msg, off):
    """The name at off in a DNS message (no compression in questions)
    and the offset after it."""
    labels = []
    while True:
        n = msg[off]
        off += 1
        if n == 0:
            return ".".join(labels), off
        if n & 0xC0:
            raise ValueError("compressed name in a question")
        labels.append(msg[off:off + n].decode("ascii").lower())
        off += n


def dns_answer(query, names):
    """The response to a DNS query message: A records from names (name ->
    IPv4) for a known name, no answer for other types, NXDOMAIN for an
    unknown name. Returns (response, name, qtype)."""
    qid, flags, qd = struct.unpack(">HHH", query[:6])
    name, off = dns_name(query, 12)
    qtype, qclass = struct.unpack(">HH", query[off:off + 4])
    question = query[12:off + 4]
    known = name in names
    rcode = 0 if known else 3
    answers = b""
    if known and qtype == 1:
        answers = (b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) +
                   socket.inet_aton(names[name]))
    head = struct.pack(">HHHHHH", qid, 0x8180 | (flags & 0x0100) | rcode,
                       1, 1 if answers else 0, 0, 0)
    return head + question + answers, name, qtype


class Server:
    """The server: start() on 127.0.0.1 with a free port, stop() after.
    tls: (certfile, keyfile) to speak HTTPS instead."""

    def __init__(self, tls=None):
        self.tls = tls
        self.doh_routes = {}
        self.doh_queries = []
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
        return "%s://%s:%d%s" % ("https" if self.tls else "http", host,
                                 self.port, path)

    def doh(self, path, names):
        """Answer DNS-over-HTTPS queries at path from names (name ->
        IPv4 address); returns the resolver's URL."""
        with self.lock:
            self.doh_routes[path] = {k.lower(): v for k, v in names.items()}
        return self.url(path)

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
        if self.tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*self.tls)
            self.httpd.tls_context = ctx
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
    tls_context = None

    def finish_request(self, request, client_address):
        """The TLS handshake here, in the connection's own thread, so
        that a client that never finishes it holds up no other."""
        if self.tls_context is not None:
            request.settimeout(30)
            request = self.tls_context.wrap_socket(request, server_side=True)
            request.settimeout(None)
        super().finish_request(request, client_address)

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if not isinstance(exc, (ConnectionError, TimeoutError,
                                ssl.SSLError)):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_obj = None

    def log_message(self, fmt, *args):
        pass

    def do_POST(self):
        srv = self.server_obj
        path = self.path.split("?", 1)[0]
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n > 0 else b""
        if path in srv.doh_routes:
            self.answer_doh(srv, path, body)
        else:
            self.send_error(405)

    def answer_doh(self, srv, path, query):
        """One RFC 8484 query: answer it, record it."""
        try:
            resp, name, qtype = dns_answer(query, srv.doh_routes[path])
        except (ValueError, IndexError, struct.error, UnicodeError):
            self.send_error(400)
            return
        with srv.lock:
            srv.doh_queries.append((name, qtype))
        self.send_response(200)
        self.send_header("Content-Type", "application/dns-message")
        self.send_header("Content-Length", str(len(resp)))
        self.end_headers()
        self.wfile.write(resp)

    def do_GET(self):
        srv = self.server_obj
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].lower()
        path = self.path
        dpath, _, qs = path.partition("?")
        if dpath in srv.doh_routes:
            q = urllib.parse.parse_qs(qs).get("dns", [""])[0]
            try:
                query = base64.urlsafe_b64decode(q + "=" * (-len(q) % 4))
            except ValueError:
                query = b""
            self.answer_doh(srv, dpath, query)
            return
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
        if route.get("stall_after") is not None:
            self.wfile.write(body[:route["stall_after"]])
            self.wfile.flush()
            srv.stopping.wait()
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


class Blackhole:
    """Accepts connections on 127.0.0.1 and never answers: no byte, no
    close, until stop()."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.accepted = 0
        self.stopping = threading.Event()
        self.thread = None

    def start(self):
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def _run(self):
        self.sock.settimeout(0.05)
        while not self.stopping.is_set():
            try:
                c, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            self.conns.append(c)
            self.accepted += 1

    def url(self, path, host="127.0.0.1", scheme="http"):
        return "%s://%s:%d%s" % (scheme, host, self.port, path)

    def stop(self):
        self.stopping.set()
        if self.thread:
            self.thread.join()
        for c in self.conns:
            c.close()
        self.sock.close()


class Socks5:
    """A SOCKS5 proxy on 127.0.0.1 (RFC 1928, no authentication, CONNECT
    only) that records what went through it and only ever connects to
    the loopback: a domain name goes to names.get(name, "127.0.0.1")."""

    def __init__(self, names=None):
        self.names = dict(names or {})
        self.connects = []  # (host, port, address type 1/3/4)
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.thread = None

    def start(self):
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def url(self, scheme="socks5h"):
        return "%s://127.0.0.1:%d" % (scheme, self.port)

    def stop(self):
        self.stopping.set()
        if self.thread:
            self.thread.join()
        self.sock.close()

    def _run(self):
        self.sock.settimeout(0.05)
        while not self.stopping.is_set():
            try:
                c, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            threading.Thread(target=self._serve, args=(c,),
                             daemon=True).start()

    @staticmethod
    def _read(c, n):
        data = b""
        while len(data) < n:
            chunk = c.recv(n - len(data))
            if not chunk:
                raise ConnectionError("short read")
            data += chunk
        return data

    def _serve(self, c):
        up = None
        try:
            c.settimeout(10)
            ver, nm = self._read(c, 2)
            methods = self._read(c, nm)
            if ver != 5 or 0 not in methods:
                c.sendall(b"\x05\xff")
                return
            c.sendall(b"\x05\x00")
            ver, cmd, _, atyp = self._read(c, 4)
            if atyp == 1:
                host = socket.inet_ntoa(self._read(c, 4))
            elif atyp == 3:
                host = self._read(c, self._read(c, 1)[0]).decode("ascii")
            elif atyp == 4:
                host = socket.inet_ntop(socket.AF_INET6, self._read(c, 16))
            else:
                return
            port = struct.unpack(">H", self._read(c, 2))[0]
            with self.lock:
                self.connects.append((host, port, atyp))
            if cmd != 1:
                c.sendall(b"\x05\x07\x00\x01" + b"\0" * 6)
                return
            addr = host if atyp != 3 else self.names.get(host.lower(),
                                                         "127.0.0.1")
            if addr not in ("127.0.0.1", "::1"):
                # Tests talk to the loopback only.
                c.sendall(b"\x05\x02\x00\x01" + b"\0" * 6)
                return
            try:
                up = socket.create_connection((addr, port), timeout=10)
            except OSError:
                c.sendall(b"\x05\x05\x00\x01" + b"\0" * 6)
                return
            c.sendall(b"\x05\x00\x00\x01" + socket.inet_aton("127.0.0.1") +
                      struct.pack(">H", up.getsockname()[1]))
            c.settimeout(None)
            up.settimeout(None)
            self._relay(c, up)
        except (OSError, ConnectionError, ValueError):
            pass
        finally:
            c.close()
            if up:
                up.close()

    def _relay(self, a, b):
        socks = [a, b]
        while not self.stopping.is_set():
            r, _, _ = select.select(socks, [], [], 0.1)
            for s in r:
                data = s.recv(65536)
                if not data:
                    return
                (b if s is a else a).sendall(data)


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
