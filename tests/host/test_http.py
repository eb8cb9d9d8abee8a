"""The perch host module's HTTP client against servers this test starts.

Every server listens on a loopback address only and stops by itself; every
name the client resolves is mapped by the driver (--map), so no test ever
asks real DNS or leaves the machine.
"""
import os
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

PROBE = os.environ.get("HTTP_PROBE", "http_probe")
MODULES = os.environ.get("HOST_MODULES", ".")
OPENSSL = os.environ.get("OPENSSL", "")
PERCH = os.environ.get("PERCH", "")

# Servers stop by themselves after this long, whatever happens to the test.
SERVER_LIFETIME = 150


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, code, body, headers=()):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        path, _, query = self.path.partition("?")
        q = {k: v[0] for k, v in parse_qs(query).items()}
        self.server.seen.append(self.path)
        if path == "/ok":
            self.send(200, b"hello perch\n")
        elif path.startswith("/status/"):
            self.send(int(path[8:]), b"status body")
        elif path == "/big":
            self.send(200, b"x" * int(q["n"]))
        elif path == "/chunked":
            n = int(q["n"])
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for _ in range(0, n, 1000):
                self.wfile.write(b"3e8\r\n" + b"y" * 1000 + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        elif path == "/redirect":
            self.send(int(q.get("code", "302")), b"moved", [("Location", q["to"])])
        elif path == "/loop":
            i = int(q.get("i", "0"))
            self.send(302, b"", [("Location", f"/loop?i={i + 1}")])
        elif path == "/stall":
            time.sleep(min(float(q["s"]), 5))
            self.send(200, b"late")
        elif path == "/headers":
            body = "".join(f"{k}: {v}\n" for k, v in self.headers.items())
            self.send(200, body.encode())
        else:
            self.send(404, b"not found")


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host="127.0.0.1", tls=None):
        if ":" in host:
            self.address_family = socket.AF_INET6
        super().__init__((host, 0), Handler)
        self.seen = []
        if tls:
            self.socket = tls.wrap_socket(self.socket, server_side=True)
        self.port = self.server_address[1]
        threading.Thread(target=self.serve_forever, daemon=True).start()
        self.timer = threading.Timer(SERVER_LIFETIME, self.shutdown)
        self.timer.daemon = True
        self.timer.start()

    def handle_error(self, request, client_address):
        pass  # clients that give up (timeouts, size caps) are part of the tests

    def stop(self):
        self.timer.cancel()
        self.shutdown()
        self.server_close()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def probe(*args, env=None):
    e = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    if env:
        e.update(env)
    p = subprocess.run([PROBE, *map(str, args)], capture_output=True, text=True, timeout=60, env=e)
    if p.returncode not in (0, 1):
        raise AssertionError(f"probe failed ({p.returncode}): {p.stderr}")
    return p.stdout.splitlines()


class HttpCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.http = Server()
        cls.P = cls.http.port
        cls.cert = None
        cls.https = None
        if OPENSSL:
            cert = os.path.join(cls.tmp.name, "cert.pem")
            key = os.path.join(cls.tmp.name, "key.pem")
            subprocess.run([OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                            "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=perch-test",
                            "-addext", "subjectAltName=IP:127.0.0.1,IP:::1,DNS:api.test"],
                           check=True, capture_output=True, timeout=60)
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(cert, key)
            cls.cert = cert
            cls.https = Server(tls=ctx)
            cls.S = cls.https.port

    @classmethod
    def tearDownClass(cls):
        cls.http.stop()
        if cls.https:
            cls.https.stop()
        cls.tmp.cleanup()

    def setUp(self):
        self.http.seen.clear()

    def u(self, path, host="127.0.0.1"):
        return f"http://{host}:{self.P}{path}"

    def grant(self, host="127.0.0.1"):
        return f"http://{host}:{self.P}"

    def need_tls(self):
        if not self.https:
            self.skipTest("openssl not found")


class TestRequests(HttpCase):
    def test_allowed_get_loads_curl_on_first_use(self):
        out = probe("--allow", self.grant(), self.u("/ok"))
        self.assertEqual(out, [
            "curl-loaded 0",
            f"fetch 200 12 0 {self.u('/ok')}",
            f"ok 200 12 0 {self.u('/ok')} [hello perch.]",
            "curl-loaded 1",
        ])

    def test_non_2xx_is_a_response(self):
        out = probe("--allow", self.grant(), self.u("/status/404"), self.u("/status/500"))
        self.assertIn(f"ok 404 11 0 {self.u('/status/404')} [status body]", out)
        self.assertIn(f"ok 500 11 0 {self.u('/status/500')} [status body]", out)

    def test_refusals_never_load_curl(self):
        out = probe("--allow", f"http://127.0.0.1:{self.P + 1}", self.u("/ok"), "ftp://x.test/")
        self.assertEqual(out, [
            "curl-loaded 0",
            f"refusal allowlist {self.u('/ok')}",
            f"error wasm_http_refused: allowlist: 127.0.0.1:{self.P} is not granted ({self.u('/ok')})",
            "refusal scheme ftp://x.test/",
            'error wasm_http_refused: scheme: "ftp" is not allowed (only https, and http where granted) (ftp://x.test/)',
            "curl-loaded 0",
        ])
        self.assertEqual(self.http.seen, [])

    def test_wrong_port(self):
        out = probe("--allow", f"http://127.0.0.1:{self.P + 1}", self.u("/ok"))
        self.assertIn(f"error wasm_http_refused: allowlist: 127.0.0.1:{self.P} is not granted ({self.u('/ok')})", out)

    def test_plain_http_needs_its_grant(self):
        out = probe("--allow", f"127.0.0.1:{self.P}", self.u("/ok"))
        self.assertIn("refusal scheme " + self.u("/ok"), out)
        self.assertIn(f"error wasm_http_refused: scheme: plain http to 127.0.0.1:{self.P} is not granted "
                      f"(use https, or grant http://127.0.0.1:{self.P}) ({self.u('/ok')})", out)

    def test_loopback_needs_a_literal_grant(self):
        out = probe("--allow", "http://*", self.u("/ok"))
        self.assertIn(f"error wasm_http_refused: address: 127.0.0.1:{self.P} is in the loopback range "
                      f"(grant it literally to reach it) (127.0.0.1)", out)
        self.assertEqual(self.http.seen, [])

    def test_name_granted_literally_is_pinned(self):
        # api.test exists only in the driver's map: the request succeeds only
        # if libcurl connects to the pinned address without resolving.
        out = probe("--allow", self.grant("api.test"), "--map", "api.test=127.0.0.1",
                    self.u("/ok", "api.test"))
        self.assertIn(f"ok 200 12 0 {self.u('/ok', 'api.test')} [hello perch.]", out)

    def test_wildcard_name_resolving_to_loopback(self):
        out = probe("--allow", f"http://*.test:{self.P}", "--map", "api.test=127.0.0.1",
                    self.u("/ok", "api.test"))
        self.assertIn(f"error wasm_http_refused: address: api.test:{self.P} resolves to an address in the "
                      f"loopback range (grant the name or the address literally to reach it) (127.0.0.1)", out)
        self.assertEqual(self.http.seen, [])

    def test_every_answer_is_checked(self):
        out = probe("--allow", f"http://*.test:{self.P}", "--map", "api.test=93.184.216.34,10.0.0.1",
                    self.u("/ok", "api.test"))
        self.assertIn(f"error wasm_http_refused: address: api.test:{self.P} resolves to an address in the "
                      f"private range (grant the name or the address literally to reach it) (10.0.0.1)", out)

    def test_rebinding_is_checked_per_request(self):
        out = probe("--allow", self.grant("api.test"), "--rebind", "api.test=127.0.0.1/169.254.169.254",
                    self.u("/ok", "api.test"), self.u("/ok", "api.test"))
        self.assertIn(f"ok 200 12 0 {self.u('/ok', 'api.test')} [hello perch.]", out)
        self.assertIn(f"error wasm_http_refused: address: api.test:{self.P} resolves to a cloud metadata "
                      f"address (only a grant of that address itself reaches it) (169.254.169.254)", out)
        self.assertEqual(self.http.seen, ["/ok"])

    def test_unresolvable_name_is_io(self):
        out = probe("--allow", self.grant("nowhere.test"), self.u("/ok", "nowhere.test"))
        self.assertIn("error io: cannot resolve nowhere.test", out)

    def test_url_tricks(self):
        out = probe("--allow", "http://*", "http://2130706433/", "http://0x7f.1/",
                    f"http://127.0.0.1:{self.P}@evil.test/", "http://evil.test\\@127.0.0.1/",
                    "127.0.0.1/ok")
        self.assertIn('error wasm_http_refused: url: the host "2130706433" is an IPv4 address in a non-canonical '
                      'spelling (write it as four decimal numbers, a.b.c.d) (http://2130706433/)', out)
        self.assertIn('error wasm_http_refused: url: the host "0x7f.1" is an IPv4 address in a non-canonical '
                      'spelling (write it as four decimal numbers, a.b.c.d) (http://0x7f.1/)', out)
        self.assertIn(f"error wasm_http_refused: url: user information before '@' is not allowed "
                      f"(http://127.0.0.1:{self.P}@evil.test/)", out)
        self.assertIn("error wasm_http_refused: url: the URL has a backslash (http://evil.test\\@127.0.0.1/)", out)
        self.assertIn("error wasm_http_refused: scheme: the URL has no scheme (write https://HOST/PATH) "
                      "(127.0.0.1/ok)", out)
        self.assertEqual(self.http.seen, [])

    def test_request_headers(self):
        out = probe("--allow", self.grant(), self.u("/headers"),
                    env={"http_proxy": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9",
                         "ALL_PROXY": "http://127.0.0.1:9"})
        self.assertTrue(any(line.startswith("ok 200 ") for line in out), out)
        self.assertEqual(self.http.seen, ["/headers"])

    def test_headers_sent(self):
        out = probe("--allow", self.grant(), "--show", "500", self.u("/headers"))
        line = [x for x in out if x.startswith("ok ")]
        self.assertEqual(len(line), 1, out)
        # exactly these headers: no custom ones, no proxy, no compression
        self.assertTrue(line[0].endswith(f"[Host: 127.0.0.1:{self.P}.User-Agent: perch/0.1.0.Accept: */*.]"),
                        line[0])

    def test_connection_refused_is_io(self):
        port = free_port()
        out = probe("--allow", f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port}/")
        self.assertTrue(any(x.startswith("error io: the request failed (curl error 7)") for x in out), out)

    def test_library_missing_is_io(self):
        out = probe("--library", "libcurl-perch-missing.so.9", "--allow", self.grant(), self.u("/ok"))
        self.assertTrue(any(x.startswith("error io: cannot load libcurl-perch-missing.so.9, needed for "
                                         "network access (install libcurl4) (") for x in out), out)


class TestProxyEnvironment(HttpCase):
    def test_no_proxy_from_the_environment(self):
        proxy = Server()
        try:
            env = {v: f"http://127.0.0.1:{proxy.port}" for v in
                   ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")}
            out = probe("--allow", self.grant(), self.u("/ok"), env=env)
            self.assertIn(f"ok 200 12 0 {self.u('/ok')} [hello perch.]", out)
            self.assertEqual(proxy.seen, [])
            self.assertEqual(self.http.seen, ["/ok"])
        finally:
            proxy.stop()


class TestRedirects(HttpCase):
    def test_followed_and_rechecked(self):
        out = probe("--allow", self.grant(), self.u("/redirect?to=/ok"))
        self.assertIn(f"fetch 200 12 1 {self.u('/ok')}", out)
        self.assertIn(f"ok 200 12 1 {self.u('/ok')} [hello perch.]", out)

    def test_each_status(self):
        for code in (301, 302, 303, 307, 308):
            out = probe("--allow", self.grant(), self.u(f"/redirect?code={code}&to=/ok"))
            self.assertIn(f"ok 200 12 1 {self.u('/ok')} [hello perch.]", out)
        out = probe("--allow", self.grant(), self.u("/redirect?code=300&to=/ok"))
        self.assertIn(f"ok 300 5 0 {self.u('/redirect?code=300&to=/ok')} [moved]", out)

    def test_to_a_host_not_granted(self):
        target = f"http://other.test:{self.P}/ok"
        out = probe("--allow", self.grant(), "--map", "other.test=127.0.0.1",
                    self.u(f"/redirect?to={target}"))
        self.assertIn(f"refusal allowlist {target}", out)
        self.assertIn(f"error wasm_http_refused: allowlist: other.test:{self.P} is not granted ({target})", out)
        self.assertEqual(self.http.seen, [f"/redirect?to={target}"])

    def test_to_a_refused_address(self):
        target = f"http://evil.test:{self.P}/ok"
        out = probe("--allow", self.grant(), "--allow", f"http://*.test:{self.P}",
                    "--map", "evil.test=127.0.0.2", self.u(f"/redirect?to={target}"))
        self.assertIn(f"refusal address {target}", out)
        # an address granted literally is reachable under any name
        out = probe("--allow", self.grant(), "--allow", f"http://*.test:{self.P}",
                    "--map", "evil.test=127.0.0.1", self.u(f"/redirect?to={target}"))
        self.assertIn(f"ok 200 12 1 {target} [hello perch.]", out)
        self.assertEqual(self.http.seen, [f"/redirect?to={target}"] * 2 + ["/ok"])

    def test_to_a_bad_url(self):
        out = probe("--allow", self.grant(), self.u("/redirect?to=ftp://127.0.0.1/x"))
        self.assertIn('error wasm_http_refused: scheme: "ftp" is not allowed (only https, and http where '
                      'granted) (ftp://127.0.0.1/x)', out)

    def test_limit(self):
        out = probe("--allow", self.grant(), "--max-redirects", "2", self.u("/loop"))
        self.assertIn(f"error wasm_http_refused: redirect: more than 2 redirects ({self.u('/loop?i=3')})", out)
        self.assertEqual(self.http.seen, ["/loop", "/loop?i=1", "/loop?i=2"])
        out = probe("--allow", self.grant(), "--max-redirects", "0", self.u("/redirect?to=/ok"))
        self.assertIn(f"error wasm_http_refused: redirect: more than 0 redirects ({self.u('/ok')})", out)

    def test_https_to_http_downgrade(self):
        self.need_tls()
        start = f"https://127.0.0.1:{self.S}/redirect?to={self.u('/ok')}"
        out = probe("--allow", f"127.0.0.1:{self.S}", "--allow", self.grant(), "--ca-file", self.cert, start)
        self.assertIn(f"error wasm_http_refused: scheme: a redirect from https to http is refused ({self.u('/ok')})",
                      out)
        self.assertEqual(self.http.seen, [])


class TestLimits(HttpCase):
    def test_size_cap_with_length(self):
        out = probe("--allow", self.grant(), "--max-body", "1000", self.u("/big?n=1000"), self.u("/big?n=1001"))
        self.assertIn(f"ok 200 1000 0 {self.u('/big?n=1000')} [{'x' * 32}]", out)
        self.assertIn(f"error wasm_http_refused: size: the response body is larger than the cap of 1000 bytes "
                      f"({self.u('/big?n=1001')})", out)
        self.assertIn(f"refusal size {self.u('/big?n=1001')}", out)

    def test_size_cap_chunked(self):
        out = probe("--allow", self.grant(), "--max-body", "4096", self.u("/chunked?n=4000"),
                    self.u("/chunked?n=5000"))
        self.assertIn(f"ok 200 4000 0 {self.u('/chunked?n=4000')} [{'y' * 32}]", out)
        self.assertIn(f"error wasm_http_refused: size: the response body is larger than the cap of 4096 bytes "
                      f"({self.u('/chunked?n=5000')})", out)

    def test_stalling_server_times_out(self):
        t = time.monotonic()
        out = probe("--allow", self.grant(), "--timeout-ms", "500", self.u("/stall?s=3"))
        self.assertLess(time.monotonic() - t, 2.5)
        self.assertTrue(any(x.startswith("error io: the request timed out") for x in out), out)

    def test_bad_config(self):
        self.assertIn("error usage: the response size cap must be 1 to 2147483647 bytes",
                      probe("--max-body", "0", "x"))
        self.assertIn("error usage: HTTP timeouts must be 1 ms to 24 days", probe("--timeout-ms", "0", "x"))
        self.assertIn('error usage: allowed host "127.0.0.1" has no port (write host:port, e.g. '
                      'api.example.com:443)', probe("--allow", "127.0.0.1", "x"))


class TestTls(HttpCase):
    def test_verified_with_ca_file(self):
        self.need_tls()
        url = f"https://127.0.0.1:{self.S}/ok"
        out = probe("--allow", f"127.0.0.1:{self.S}", "--ca-file", self.cert, url)
        self.assertIn(f"ok 200 12 0 {url} [hello perch.]", out)

    def test_unverified_certificate_refused(self):
        self.need_tls()
        url = f"https://127.0.0.1:{self.S}/ok"
        out = probe("--allow", f"127.0.0.1:{self.S}", url)
        self.assertIn(f"refusal certificate {url}", out)
        self.assertTrue(any(x.startswith(f"error wasm_http_refused: certificate: the certificate of "
                                         f"127.0.0.1:{self.S} does not verify (") for x in out), out)

    def test_pinned_name_verifies_by_name(self):
        self.need_tls()
        url = f"https://api.test:{self.S}/ok"
        out = probe("--allow", f"api.test:{self.S}", "--map", "api.test=127.0.0.1", "--ca-file", self.cert, url)
        self.assertIn(f"ok 200 12 0 {url} [hello perch.]", out)
        url = f"https://other.test:{self.S}/ok"
        out = probe("--allow", f"other.test:{self.S}", "--map", "other.test=127.0.0.1", "--ca-file", self.cert,
                    url)
        self.assertIn(f"refusal certificate {url}", out)

    def test_ca_file_missing_is_io(self):
        self.need_tls()
        url = f"https://127.0.0.1:{self.S}/ok"
        out = probe("--allow", f"127.0.0.1:{self.S}", "--ca-file", "/nonexistent/perch-ca.pem", url)
        self.assertTrue(any(x.startswith("error io: the request failed (curl error 77)") for x in out), out)


class TestIpv6(unittest.TestCase):
    def test_ipv6_loopback_literal_and_pinned_name(self):
        try:
            server = Server("::1")
        except OSError:
            self.skipTest("no IPv6 loopback")
        try:
            p = server.port
            out = probe("--allow", f"http://[::1]:{p}", f"http://[::1]:{p}/ok",
                        f"http://[0:0::1]:{p}/ok", f"http://[::ffff:127.0.0.1]:{p}/ok")
            self.assertIn(f"ok 200 12 0 http://[::1]:{p}/ok [hello perch.]", out)
            self.assertEqual(out.count(f"ok 200 12 0 http://[::1]:{p}/ok [hello perch.]"), 2)
            self.assertIn(f"error wasm_http_refused: allowlist: [::ffff:127.0.0.1]:{p} is not granted "
                          f"(http://[::ffff:127.0.0.1]:{p}/ok)", out)
            out = probe("--allow", f"http://v6.test:{p}", "--map", "v6.test=::1", f"http://v6.test:{p}/ok")
            self.assertIn(f"ok 200 12 0 http://v6.test:{p}/ok [hello perch.]", out)
        finally:
            server.stop()


class TestGuest(HttpCase):
    def guest(self, *args, module="http_guest.wasm"):
        return probe("--wasm", os.path.join(MODULES, module), *args)

    def test_get_read_close(self):
        out = self.guest("--allow", self.grant(), self.u("/ok"), self.u("/ok"))
        self.assertIn("guest h=1 status=200 len=12 read=12 error=0 close=0 [hello perch.]", out)
        self.assertIn("guest h=2 status=200 len=12 read=12 error=0 close=0 [hello perch.]", out)
        self.assertIn("guest after-close close=-1 status=0 len=-1", out)
        self.assertIn("open 0", out)

    def test_small_reads(self):
        out = self.guest("--allow", self.grant(), "--chunk", "5", self.u("/big?n=23"))
        self.assertIn(f"guest h=1 status=200 len=23 read=23 error=0 close=0 [{'x' * 23}]", out)

    def test_refusal_reason(self):
        msg = f"wasm_http_refused: allowlist: 127.0.0.1:{self.P} is not granted"
        out = self.guest(self.u("/ok"))
        self.assertIn(f"guest -1 {len(msg) + len(' (this run grants no network access)')} "
                      f"{msg} (this run grants no network access)", out)
        self.assertIn(f"refusal allowlist {self.u('/ok')}", out)
        out = self.guest("--allow", f"http://127.0.0.1:{self.P + 1}", self.u("/ok"), self.u("/ok"))
        self.assertEqual(out.count(f"guest -1 {len(msg)} {msg}"), 2)

    def test_address_reason_hides_the_address(self):
        out = self.guest("--allow", f"http://*.test:{self.P}", "--map", "api.test=10.9.8.7", self.u("/ok", "api.test"))
        line = [x for x in out if x.startswith("guest -1 ")]
        self.assertEqual(len(line), 1, out)
        self.assertIn("address: api.test:", line[0])
        self.assertNotIn("10.9.8.7", line[0])

    def test_kill_on_refusal(self):
        out = self.guest("--kill", self.u("/ok"))
        self.assertIn(f"trap error wasm_http_refused: allowlist: 127.0.0.1:{self.P} is not granted (this run grants "
                      f"no network access) ({self.u('/ok')})", out)

    def test_io_errors_do_not_kill(self):
        port = free_port()
        out = self.guest("--kill", "--allow", f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port}/")
        self.assertTrue(any(x.startswith("guest -1 ") and "io: the request failed" in x for x in out), out)

    def test_guest_pointers_are_checked(self):
        size = 2 * 65536
        msg = f"wasm_http_refused: url: the URL (at {size - 4}, 10 bytes) lies outside the module's memory"
        out = self.guest("--allow", self.grant(), "!badptr", "!errptr", f"!readbad:{self.u('/big?n=5')}")
        self.assertIn(f"badptr get=-1 error={msg}", out)
        self.assertIn(f"errptr outside=-1 size={len(msg)} small={len(msg)} [wasm_###########]", out)
        self.assertIn("readbad h=1 outside=-1 inside=5 [xxxxx]", out)
        self.assertEqual(self.http.seen, ["/big?n=5"])

    def test_unknown_handles(self):
        out = self.guest("!handles")
        for h in (0, -1, 99, -2147483648, 2147483647):
            self.assertIn(f"handle {h} status=0 len=-1 close=-1 read=-1", out)

    def test_handle_table_is_bounded(self):
        u = self.u("/ok")
        out = self.guest("--allow", self.grant(), "--max-handles", "2", "!keep:" + u, "!keep:" + u, "!keep:" + u, u)
        self.assertEqual(out.count("keep h=1"), 1)
        self.assertIn("keep h=2", out)
        self.assertIn("keep h=-1", out)
        msg = "wasm_http_refused: limit: too many responses open at once (at most 2; free them with http_close)"
        self.assertIn(f"guest -1 {len(msg)} {msg}", out)
        self.assertIn("open 2", out)
        self.assertEqual(self.http.seen, ["/ok", "/ok"])

    def test_link_errors(self):
        out = self.guest(module="bad_type.wasm")
        self.assertIn('error wasm_unlinkable: incompatible import type: perch "http_get" takes 2 i32 and returns '
                      'an i32', out)
        out = self.guest(module="unknown_import.wasm")
        self.assertIn('error wasm_unlinkable: unknown import "perch" "http_post"', out)


class TestSdkGuest(TestGuest):
    """The guest tests again, through sdk/c/perch/host.h."""

    def guest(self, *args, module="sdk_guest.wasm"):
        path = os.path.join(MODULES, module)
        if module == "sdk_guest.wasm" and not os.path.exists(path):
            self.skipTest("no wasm32-wasi clang")
        return probe("--wasm", path, *([] if module != "sdk_guest.wasm" else ["--base", "70000"]), *args)

    def test_fetch_helper(self):
        msg = f"wasm_http_refused: allowlist: 127.0.0.1:{self.P} is not granted (this run grants no network access)"
        out = self.guest("--allow", self.grant(), f"!fetch:{self.u('/big?n=7')}",
                         f"!fetchsmall:{self.u('/big?n=7')}", f"!fetch:{self.u('/status/404')}")
        self.assertIn("fetch rc=0 status=200 len=7 [xxxxxxx]", out)
        self.assertIn("fetch rc=-2 status=200 len=7 []", out)
        self.assertIn("fetch rc=0 status=404 len=11 [status body]", out)
        self.assertIn("open 0", out)
        out = self.guest(f"!fetch:{self.u('/ok')}", "!errptr")
        self.assertIn("fetch rc=-1 status=0 len=0 []", out)
        self.assertIn(f"errptr outside=-1 size={len(msg)} small={len(msg)} [wasm_###########]", out)


class TestBuild(unittest.TestCase):
    def test_perch_is_not_linked_against_libcurl(self):
        if not PERCH:
            self.skipTest("perch not built")
        p = subprocess.run(["ldd", PERCH], capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn("libcurl", p.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
