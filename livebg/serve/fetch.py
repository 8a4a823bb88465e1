"""Fetching an input named by URL (`livebg serve --url-input`), without becoming a proxy into
the server's own network: every address a name resolves to must be public, the connection goes
to the address that was checked (a second DNS answer cannot swap in a private one), redirects
are followed by hand and checked the same way, and the size and time are capped."""
from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from livebg.serve.media import MediaError

MAX_REDIRECTS = 3
CHUNK = 1 << 16


def is_public_address(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def resolve_public(host: str, port: int) -> str:
    """One public address of ``host``; refuses when any address it resolves to is not public."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise MediaError(400, f"url: the name {host} does not resolve: check the URL", "bad_url") from None
    addresses = [str(info[4][0]) for info in infos]
    private = [a for a in addresses if not is_public_address(a)]
    if private or not addresses:
        raise MediaError(400, f"url: {host} resolves to a non-public address ({private[0] if private else 'none'}); "
                              f"only public http(s) addresses can be fetched: upload the file instead", "bad_url")
    return addresses[0]


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host: str, address: str, port: int, timeout: float):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, host: str, address: str, port: int, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


def fetch(url: str, dest: Path, *, max_bytes: int, timeout: float) -> None:
    """Download ``url`` into ``dest`` within the limits, or raise MediaError (``dest`` removed)."""
    deadline = time.monotonic() + timeout
    try:
        for _ in range(MAX_REDIRECTS + 1):
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise MediaError(400, "url must be an http:// or https:// address", "bad_url")
            port = parts.port or (443 if parts.scheme == "https" else 80)
            address = resolve_public(parts.hostname, port)
            kind = _PinnedHTTPS if parts.scheme == "https" else _PinnedHTTP
            conn = kind(parts.hostname, address, port, timeout=max(1.0, deadline - time.monotonic()))
            try:
                path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
                conn.request("GET", path, headers={"User-Agent": "livebg", "Accept": "*/*"})
                response = conn.getresponse()
                if response.status in (301, 302, 303, 307, 308):
                    location = response.getheader("Location")
                    if not location:
                        raise MediaError(400, f"url: a redirect ({response.status}) without a Location", "bad_url")
                    url = urljoin(url, location)
                    continue
                if response.status != 200:
                    raise MediaError(400, f"url: the server answered {response.status} {response.reason}: check the URL",
                                     "bad_url")
                declared = response.getheader("Content-Length")
                if declared and declared.isdigit() and int(declared) > max_bytes:
                    raise MediaError(413, f"url: the file is {int(declared) / 1e6:.0f} MB; the limit is "
                                          f"{max_bytes / 1e6:g} MB", "upload_too_large")
                size = 0
                with open(dest, "wb") as out:
                    while chunk := response.read(CHUNK):
                        size += len(chunk)
                        if size > max_bytes:
                            raise MediaError(413, f"url: the file is over the {max_bytes / 1e6:g} MB limit",
                                             "upload_too_large")
                        if time.monotonic() > deadline:
                            raise MediaError(400, f"url: the download took over {timeout:g} s: upload the file instead",
                                             "url_timeout")
                        out.write(chunk)
                return
            finally:
                conn.close()
        raise MediaError(400, f"url: more than {MAX_REDIRECTS} redirects", "bad_url")
    except MediaError:
        dest.unlink(missing_ok=True)
        raise
    except (OSError, http.client.HTTPException) as exc:
        dest.unlink(missing_ok=True)
        reason = "timed out" if isinstance(exc, TimeoutError | socket.timeout) else type(exc).__name__
        raise MediaError(400, f"url: the download failed ({reason}): check the URL or upload the file", "url_failed") from None
