"""A WSGI app served by cheroot (a pure-Python WSGI server with TLS) in a background thread: the desk page
and the site service's two listeners."""

from __future__ import annotations

import logging
import threading

log = logging.getLogger(__name__)


# The pages' Content-Security-Policy: their own script, style and pictures only, nothing inline, no frame.
PAGE_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


def harden(response, *, https: bool):
    """The headers every page of the desk and the site service carries (after_request): the policy above,
    no sniffing, no referrer, nothing cached, HSTS over HTTPS."""
    response.headers["Content-Security-Policy"] = PAGE_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    if https:
        response.headers["Strict-Transport-Security"] = "max-age=31536000"
    return response


class WsgiServer:
    """``app`` on cheroot in a daemon thread; ``port`` 0 takes a free port (tests); TLS 1.2 and newer with
    ``tls_cert`` (its key in the same file or in ``tls_key``). ``what`` names it in the log and its thread."""

    def __init__(self, app, *, bind: str, port: int, tls_cert: str = "", tls_key: str = "", what: str,
                 thread: str, threads: int = 4):
        from cheroot import wsgi
        self.what, self.thread_name = what, thread
        self.server = wsgi.Server((bind, port), app, numthreads=threads, server_name=f"kiosk-{thread}")
        self.server.error_log = _server_log
        self.tls = bool(tls_cert)
        if tls_cert:
            import ssl

            from cheroot.ssl.builtin import BuiltinSSLAdapter
            adapter = BuiltinSSLAdapter(tls_cert, tls_key or None)
            adapter.context.minimum_version = ssl.TLSVersion.TLSv1_2
            self.server.ssl_adapter = adapter
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server.bind_addr[:2]
        return f"{'https' if self.tls else 'http'}://{host}:{port}"

    def start(self):
        """Bind now (an address in use fails here, with OSError), then serve in a daemon thread."""
        self.server.prepare()
        self._thread = threading.Thread(target=self.server.serve, name=self.thread_name, daemon=True)
        self._thread.start()
        log.info("%s at %s", self.what, self.url)
        return self

    def stop(self) -> None:
        self.server.stop()
        if self._thread is not None:
            self._thread.join(timeout=5)


def _server_log(msg: str = "", level: int = logging.INFO, traceback: bool = False) -> None:
    """cheroot's errors through the kiosk's log (one line each) instead of raw on stderr. With a traceback
    its message is the exception's repr, which may quote a request: then only the exception is logged
    (class and where; all of it with --debug)."""
    server_log = logging.getLogger("cheroot")
    if traceback:
        server_log.log(level, "request failed", exc_info=True)
    else:
        server_log.log(level, "%s", msg)
