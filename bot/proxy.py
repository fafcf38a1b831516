"""X-Forwarded-* headers, believed only from the reverse proxy.

Behind nginx, the client's address and scheme arrive in X-Forwarded-For / -Proto. Anyone can
send those headers, so they are applied only when the request comes from an address in
HOTLINE_PROXY_IPS (the proxy's), and dropped otherwise: the audit log and login throttling
see the real client, and a client cannot pose as another address.
"""

from __future__ import annotations

from collections.abc import Iterable

from werkzeug.middleware.proxy_fix import ProxyFix

FORWARDED = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST",
             "HTTP_X_FORWARDED_PORT", "HTTP_X_FORWARDED_PREFIX", "HTTP_FORWARDED")


class TrustedProxy:
    def __init__(self, app, proxies: Iterable[str]) -> None:
        self.app = app
        self.proxies = frozenset(p.strip() for p in proxies if p.strip())
        self.fixed = ProxyFix(app, x_for=1, x_proto=1)

    def __call__(self, environ, start_response):
        if environ.get("REMOTE_ADDR") in self.proxies:
            return self.fixed(environ, start_response)
        for key in FORWARDED:
            environ.pop(key, None)
        return self.app(environ, start_response)
