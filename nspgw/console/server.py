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
        self._thread: threading.Thread | None = None
        self._console: Any = None

    def start(self) -> None:
        import uvicorn

        from nspgw.console.app import Console, build_app

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
        sock.listen(64)
        self._console = Console(self.cfg, self.lang)
        config = uvicorn.Config(build_app(self._console), log_level="warning", access_log=False, lifespan="off",
                                timeout_graceful_shutdown=2, server_header=False, **ssl)
        self._server = uvicorn.Server(config)
        console = self._console

        def run() -> None:
            try:
                self._server.run(sockets=[sock])
            finally:
                console.close()
                sock.close()

        self._thread = threading.Thread(target=run, name="nspgw-console", daemon=True)
        self._thread.start()
        log.info("console op %s", console_url(self.cfg))

    def stop(self) -> None:
        if self._console is not None:
            self._console.stopping = True
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(5.0)
        self._thread = self._server = None
