"""The `on_flash` hook: a command the daemon starts when a FLASH report arrives (a buzzer, a lamp, a printer).

`[alerts] on_flash = "/usr/local/bin/zoemer --duur 10"` is split like a shell line (shlex) but run without a
shell; the message is in the environment: NSPGW_FROM, NSPGW_PRECEDENCE, NSPGW_TYPE, NSPGW_TEXT (Dutch
rendering) and NSPGW_SEQ. The daemon does not wait for it: a hanging lamp script must not stop the radio.
Handling statuses (AFHANDELING) never ring it, whatever their precedence.
"""

from __future__ import annotations

import logging
import os
import shlex
import subprocess
from typing import Any

from nspgw.wire.frames import ContentType, MessageFrame, Precedence

log = logging.getLogger("nspgw.alerts")
MAX_RUNNING = 4  # a burst of reports does not fork a process each when the hook is slow


class FlashHook:
    def __init__(self, command: str, name_of: Any) -> None:
        self.argv = shlex.split(command)
        self._name_of = name_of  # address → box name
        self._running: list[subprocess.Popen[bytes]] = []

    def delivered(self, frame: MessageFrame) -> None:
        if frame.precedence != Precedence.FLASH or not self.argv:
            return
        from nspgw.errors import NspgwError
        from nspgw.wire.content import decode_content, render

        try:
            ct, value = decode_content(frame.body)
            text = render(ct, value, "nl")
        except NspgwError:
            ct, text = None, ""
        if ct == ContentType.AFHANDELING:
            return
        self._running = [p for p in self._running if p.poll() is None]
        if len(self._running) >= MAX_RUNNING:
            log.warning("on_flash: %d opdrachten lopen nog; deze melding slaat hem over", len(self._running))
            return
        env = dict(os.environ, NSPGW_FROM=str(self._name_of(int(frame.msg.origin))), NSPGW_PRECEDENCE="flash",
                   NSPGW_TYPE=ct.name.lower() if ct is not None else "onbekend", NSPGW_TEXT=text,
                   NSPGW_SEQ=str(frame.msg.seq))
        try:
            self._running.append(subprocess.Popen(self.argv, env=env, stdin=subprocess.DEVNULL,
                                                  stdout=subprocess.DEVNULL, start_new_session=True))
        except OSError as exc:
            log.error("on_flash %r kon niet starten: %s", self.argv[0], exc.strerror)

    def wait(self, timeout_s: float) -> None:
        """Wait for the hook processes started so far (tests; the daemon never waits for them)."""
        for p in self._running:
            p.wait(timeout_s)
