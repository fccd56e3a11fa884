"""Run the console inside the daemon: uvicorn on its own thread and event loop, on a socket bound here.

Binding here (not in uvicorn) turns a busy port into one clear log line while the daemon carries on: the
radio matters more than the web page. Imported only when `[console] enabled = true`, so a box without the
console never loads Starlette or uvicorn (tests/console checks `sys.modules`).
"""

from __future__ import annotations

import logging
import socket
import threading
from typing import Any

from nspgw.config import Config
from nspgw.errors import ConfigError

log = logging.getLogger("nspgw.console")


def console_url(cfg: Config) -> str:
    host = cfg.console.host
    shown = "localhost" if host in ("127.0.0.1", "::1") else ("<ip-van-dit-kastje>" if host in ("0.0.0.0", "::")
                                                              else host)
    return f"{'https' if cfg.console.tls else 'http'}://{shown}:{cfg.console.port}/"


class ConsoleServer:
    def __init__(self, cfg: Config, lang: str = "nl") -> None:
        self.cfg = cfg
        self.lang = lang
        self._server: Any = None
        self._console: Any = None
        self._ready = threading.Event()  # the server object exists (or failed to)
        self._done = threading.Event()
        self._stop_asked = False

    def start(self) -> None:
        """Bind now (a busy port is an error here); import and serve on the console's thread, so that the
        daemon's READY does not wait for Starlette and uvicorn to load."""
        cc = self.cfg.console
        ssl: dict[str, Any] = {}
        if cc.tls:
            from nspgw.console.tls import ensure_certificate

            cert, key = ensure_certificate(self.cfg.state_dir, self.cfg.name)
            ssl = {"ssl_certfile": str(cert), "ssl_keyfile": str(key)}
        family = socket.AF_INET6 if ":" in cc.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((cc.host, cc.port))
        except OSError as exc:
            sock.close()
            raise ConfigError(f"console: {cc.host}:{cc.port} niet beschikbaar ({exc.strerror})") from None
        sock.listen(64)  # connections wait in the backlog until the server runs
        self._ready.clear()
        threading.Thread(target=self._serve, args=(sock, ssl), name="nspgw-console", daemon=True).start()
        log.info("console op %s", console_url(self.cfg))

    def _serve(self, sock: socket.socket, ssl: dict[str, Any]) -> None:
        try:
            import uvicorn

            from nspgw.console.app import Console, build_app

            self._console = Console(self.cfg, self.lang)
            config = uvicorn.Config(build_app(self._console), log_level="warning", access_log=False,
                                    lifespan="off", timeout_graceful_shutdown=2, server_header=False, **ssl)
            self._server = uvicorn.Server(config)
        except Exception:  # never take the daemon down with the web page
            log.exception("console kon niet starten")
            sock.close()
            return
        finally:
            self._ready.set()
        try:
            if not self._stop_asked:
                self._server.run(sockets=[sock])
        finally:
            self._console.close()
            sock.close()
            self._done.set()

    def stop(self) -> None:
        self._stop_asked = True
        if not self._ready.wait(10.0):
            return
        if self._console is not None:
            self._console.stopping = True
        if self._server is not None:
            self._server.should_exit = True
            self._done.wait(5.0)
