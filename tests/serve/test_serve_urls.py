"""`livebg serve --url-input`: a request may name an http(s) URL, fetched only from public
addresses (checked after DNS, for every redirect), within the size limit. Here 127.0.0.2
plays a public host (the address check is told so) and 127.0.0.1 the server's private side."""
from __future__ import annotations

import http.server
import threading

import pytest

import livebg.serve.fetch as fetch_module
from tests.support.serve_helpers import PORTRAIT, files_under, running_server, settings


class Files(http.server.BaseHTTPRequestHandler):
    private_port = 0

    def do_GET(self):
        if self.path == "/photo.jpg":
            data = PORTRAIT.read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        elif self.path == "/inside":  # a redirect into the private side
            self.send_response(302)
            self.send_header("Location", f"http://127.0.0.1:{self.private_port}/photo.jpg")
            self.end_headers()
        elif self.path == "/big":
            self.send_response(200)
            self.end_headers()
            for _ in range(8):
                self.wfile.write(b"\0" * 1_000_000)
        else:
            self.send_response(404)
            self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def hosts(monkeypatch):
    """A "public" file server on 127.0.0.2 and a private one on 127.0.0.1."""
    servers = [http.server.ThreadingHTTPServer((host, 0), Files) for host in ("127.0.0.2", "127.0.0.1")]
    Files.private_port = servers[1].server_address[1]
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    monkeypatch.setattr(fetch_module, "is_public_address", lambda address: address == "127.0.0.2")
    yield [f"http://{s.server_address[0]}:{s.server_address[1]}" for s in servers]
    for s in servers:
        s.shutdown()
        s.server_close()


def test_urls_are_off_by_default(tmp_path, hosts):
    with running_server(settings(tmp_path)) as client:
        answer = client.post("/v1/images", data={"url": f"{hosts[0]}/photo.jpg"})
        assert answer.status_code == 400 and answer.json()["code"] == "url_input_off"


def test_public_urls_are_fetched_and_private_ones_refused(tmp_path, hosts):
    public, private = hosts
    with running_server(settings(tmp_path, url_input=True)) as client:
        ok = client.post("/v1/images", data={"url": f"{public}/photo.jpg", "bg": "white"})
        assert ok.status_code == 200 and ok.headers["content-type"] == "image/jpeg"
        for url, words in ((f"{private}/photo.jpg", "non-public"), (f"{public}/inside", "non-public"),
                           ("http://localhost/photo.jpg", "non-public"), ("file:///etc/passwd", "http"),
                           (f"{public}/missing", "404"), ("http://[::1]/x", "non-public")):
            answer = client.post("/v1/images", data={"url": url})
            assert answer.status_code == 400 and words in answer.json()["error"], (url, answer.text)
        too_big = client.post("/v1/jobs", data={"url": f"{public}/big"})
        assert too_big.status_code == 413
        assert files_under(tmp_path / "data") == []


def test_the_address_check_itself():
    assert fetch_module.is_public_address("93.184.216.34")
    for address in ("127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "::1", "fd00::1",
                    "::ffff:127.0.0.1", "0.0.0.0", "100.64.0.1", "224.0.0.1"):
        assert not fetch_module.is_public_address(address), address
