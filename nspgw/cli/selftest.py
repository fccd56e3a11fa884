"""`nspgw selftest [--json]`: one pass/fail table a technician reads before leaving a box behind.

Checks, in order (each independent: one failure does not hide the next):
    config   the configuration file loads
    keys     key files present, 0600, owned by us, matching the roster entry
    roster   signed by the trusted authority, own entry present and not revoked
    store    the database opens and passes SQLite's quick_check
    daemon   the service runs (fresh heartbeat, live pid)
    radio    reachable and matching its firmware profile (from the daemon's status when it holds the radio,
             else a direct connection; "niet getest" when the box has no radio)
    disk     free space in the state directory
    clock    wall clock not before this release: a Pi without RTC boots at an old date; nspgw does not rely
             on it (monotonic time only), but log times will look odd until NTP or GPS sets it
Exit status 1 when any check FAILS (warnings do not fail), else 0.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import typer

from nspgw.cli.context import ConfigOpt, JsonOpt, LangOpt, emit_json, lang_of

BUILD_DATE = (2026, 11, 1)  # not before this release's date; raise it with each release
DISK_FAIL_BYTES = 50 * 1024 * 1024  # SQLite needs room for its WAL; below this writes start failing
DISK_WARN_BYTES = 500 * 1024 * 1024
RADIO_TIMEOUT_S = 15.0

OK, WARN, FAIL, SKIP = "ok", "warn", "fail", "skip"


_LANG = ["nl"]  # the language of the details, set by run_checks for the checks of one run


def _w(nl: str, en: str) -> str:
    return en if _LANG[0] == "en" else nl


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok | warn | fail | skip
    detail: str


def run_checks(config: Path | None, *, radio: bool = True, lang: str = "nl") -> list[Check]:
    from nspgw.config import config_path_from_env, load_config
    from nspgw.errors import NspgwError

    _LANG[0] = lang
    checks: list[Check] = []
    try:
        cfg = load_config(config_path_from_env(config))
        checks.append(Check("config", OK, _w(f"{cfg.path}: box {cfg.name} ({cfg.role}), netwerk {cfg.network}",
                                             f"{cfg.path}: box {cfg.name} ({cfg.role}), network {cfg.network}")))
    except NspgwError as exc:
        checks.append(Check("config", FAIL, str(exc)))
        for name in ("keys", "roster", "store", "daemon", "radio", "disk"):
            checks.append(Check(name, SKIP, _w("geen configuratie", "no configuration")))
        checks.append(_clock())
        return checks
    for fn in (_keys, _roster, _store):
        try:
            checks.append(fn(cfg))
        except NspgwError as exc:
            checks.append(Check(fn.__name__.strip("_"), FAIL, str(exc)))
    daemon_check, record = _daemon(cfg)
    checks.append(daemon_check)
    checks.append(_radio(cfg, record, daemon_check.status == OK) if radio else
                  Check("radio", SKIP, _w("niet getest (--no-radio)", "not tested (--no-radio)")))
    checks.append(_disk(cfg.state_dir))
    checks.append(_clock())
    return checks


def _keys(cfg: Any) -> Check:
    from nspgw.store.keyfiles import BOX_KEY, NETWORK_KEY, load_keyring

    if not (cfg.keys_dir / BOX_KEY).exists():
        if (cfg.keys_dir / "identity.key").exists():
            return Check("keys", FAIL, _w("sleutels gemaakt maar box nog niet aangemeld: nspgw roster import BUNDEL",
                                          "keys made but the box is not enrolled yet: nspgw roster import BUNDLE"))
        return Check("keys", FAIL, _w(f"geen sleutels in {cfg.keys_dir}: nspgw init",
                                      f"no keys in {cfg.keys_dir}: nspgw init"))
    ring = load_keyring(cfg.keys_dir)  # 0600 + owner, and KeyRing checks the key matches the roster entry
    from nspgw.store.keyfiles import CHANNEL_KEY as PSK_FILE
    from nspgw.store.keyfiles import read_channel_key

    files = f"{BOX_KEY}, {NETWORK_KEY}"
    if (cfg.keys_dir / PSK_FILE).exists():
        read_channel_key(cfg.keys_dir / PSK_FILE)  # refused (SecurityError) when others can read it
        files += f", {PSK_FILE}"
    elif cfg.radio.enabled:
        return Check("keys", FAIL, _w(f"{PSK_FILE} ontbreekt (kanaalsleutel van de radio; zit in de bundel)",
                                      f"{PSK_FILE} is missing (the radio channel key; it is in the bundle)"))
    return Check("keys", OK, _w(f"{files}: 0600, passen bij roster-item adres {ring.me}",
                                f"{files}: 0600, match roster entry address {ring.me}"))


def _roster(cfg: Any) -> Check:
    from nspgw.crypto.roster import Roster
    from nspgw.store.keyfiles import AUTHORITY_PUB, BOX_KEY, ROSTER, load_identity

    keys = cfg.keys_dir
    if not (keys / ROSTER).exists() or not (keys / AUTHORITY_PUB).exists():
        return Check("roster", FAIL, _w("geen roster: nspgw roster import BUNDEL",
                                        "no roster: nspgw roster import BUNDLE"))
    apub = bytes.fromhex((keys / AUTHORITY_PUB).read_text(encoding="ascii").strip())
    roster = Roster.from_json((keys / ROSTER).read_text(encoding="utf-8"), apub)
    addr = load_identity(keys / BOX_KEY)[0] if (keys / BOX_KEY).exists() else None
    entry = roster.get(addr) if addr is not None else None
    if entry is None:
        return Check("roster", FAIL, _w(f"deze box staat niet in roster versie {roster.version}",
                                        f"this box is not in roster version {roster.version}"))
    if entry.revoked:
        return Check("roster", FAIL, _w(f"deze box ({entry.name}) is INGETROKKEN in roster versie {roster.version}",
                                        f"this box ({entry.name}) is REVOKED in roster version {roster.version}"))
    if entry.name != cfg.name:
        return Check("roster", WARN, _w(f"naam in roster is {entry.name!r}, configuratie zegt {cfg.name!r}",
                                        f"name in roster is {entry.name!r}, configuration says {cfg.name!r}"))
    live = sum(not e.revoked for e in roster.entries)
    return Check("roster", OK, _w(f"versie {roster.version}, handtekening goed, {live} actieve boxen",
                                  f"version {roster.version}, signature good, {live} active boxes"))


def _store(cfg: Any) -> Check:
    from nspgw.store.sqlite import Store

    if not cfg.store_path.exists():
        return Check("store", WARN, _w(f"{cfg.store_path} bestaat nog niet (de dienst maakt hem bij de eerste start)",
                                       f"{cfg.store_path} does not exist yet (the service makes it when it starts)"))
    with Store.open(cfg.store_path, create=False) as store:  # header, version and quick_check
        version = store.schema_version
    return Check("store", OK, _w(f"{cfg.store_path}: intact (schema {version})",
                                 f"{cfg.store_path}: intact (schema {version})"))


def _daemon(cfg: Any) -> tuple[Check, dict[str, Any] | None]:
    from nspgw.cli.context import daemon_record
    from nspgw.cli.status import reason_in
    from nspgw.errors import NspgwError
    from nspgw.store.sqlite import Store

    if not cfg.store_path.exists():
        return Check("daemon", FAIL, _w("de dienst heeft nog nooit gedraaid (systemctl start nspgw)",
                                        "the service has never run (systemctl start nspgw)")), None
    try:
        with Store.open(cfg.store_path, create=False) as store:
            record, running, why = daemon_record(store)
    except NspgwError as exc:
        return Check("daemon", FAIL, str(exc)), None
    if running:
        return Check("daemon", OK, _w("draait", "running") + f" (pid {record.get('pid') if record else '?'})"), record
    return Check("daemon", FAIL, _w(f"draait niet: {why}", f"not running: {reason_in(why, _LANG[0])}")), record


def _radio(cfg: Any, record: dict[str, Any] | None, daemon_up: bool) -> Check:
    if not cfg.radio.enabled:
        return Check("radio", SKIP, _w("niet getest: geen radio in de configuratie",
                                       "not tested: no radio in the configuration"))
    if daemon_up and record:
        # The service holds the radio (a serial port has one owner; a new TCP client replaces the old one),
        # so ask its status instead of connecting: it re-checks the profile on every (re)connection.
        r = record.get("radio") or {}
        status = r.get("status", "?")
        detail = f"{r.get('node_id', '')} {r.get('detail', '')}".strip()
        if status == "connected":
            return Check("radio", OK, _w(f"verbonden via de dienst, profiel gecontroleerd {detail}",
                                         f"connected through the service, profile checked {detail}").strip())
        return Check("radio", FAIL, _w(f"volgens de dienst: {status} {detail}",
                                       f"according to the service: {status} {detail}").strip())
    return _radio_direct(cfg)


def _radio_direct(cfg: Any) -> Check:
    from nspgw.errors import NspgwError

    try:
        from nspgw.adapters import radio_profile as profiles
        from nspgw.adapters.radio_admin import compare_radio, connected, read_info
        from nspgw.adapters.radio_connect import RadioTarget
        from nspgw.cli.radio import _quiet_library
        from nspgw.store.keyfiles import CHANNEL_KEY as PSK_FILE
        from nspgw.store.keyfiles import read_channel_key

        _quiet_library()
        prof = profiles.load_profile(cfg.radio.profile or cfg.role)
        psk_path = cfg.keys_dir / PSK_FILE
        psk = read_channel_key(psk_path) if psk_path.exists() else None
        target = RadioTarget.parse(port=cfg.radio.port, host=cfg.radio.host)
        with connected(target, RADIO_TIMEOUT_S) as iface:
            info = read_info(iface, target)
            diffs = compare_radio(iface, prof, psk)
    except NspgwError as exc:
        return Check("radio", FAIL, str(exc))
    if diffs:
        fields = ", ".join(sorted({d.field for d in diffs}))
        return Check("radio", FAIL, _w(f"{info.node_id} wijkt af van profiel {prof.name}: {fields}",
                                       f"{info.node_id} differs from profile {prof.name}: {fields}")
                     + " (nspgw radio provision)")
    return Check("radio", OK, _w(f"{info.node_id} ({info.hw_model}) voldoet aan profiel {prof.name}",
                                 f"{info.node_id} ({info.hw_model}) matches profile {prof.name}"))


def _disk(state_dir: Path) -> Check:
    import shutil

    probe = state_dir
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    mb = free // (1024 * 1024)
    if free < DISK_FAIL_BYTES:
        return Check("disk", FAIL, _w(f"nog {mb} MB vrij in {state_dir}: ruim op of gebruik een grotere SD-kaart",
                                      f"only {mb} MB free in {state_dir}: clean up or use a larger SD card"))
    if free < DISK_WARN_BYTES:
        return Check("disk", WARN, _w(f"nog {mb} MB vrij in {state_dir}", f"only {mb} MB free in {state_dir}"))
    return Check("disk", OK, _w(f"{mb} MB vrij in {state_dir}", f"{mb} MB free in {state_dir}"))


def _clock(now_wall: float | None = None) -> Check:
    import calendar

    now = time.time() if now_wall is None else now_wall
    floor = calendar.timegm((*BUILD_DATE, 0, 0, 0, 0, 0, 0))
    shown = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(now))
    if now < floor:
        return Check("clock", WARN, _w(
            f"klok staat op {shown}, vóór deze nspgw-versie: waarschijnlijk geen RTC en geen NTP. nspgw werkt "
            "gewoon (geen klok nodig), maar tijden in logboeken kloppen niet",
            f"clock says {shown}, before this nspgw release: probably no RTC and no NTP. nspgw works all the "
            "same (it needs no clock), but times in logs are wrong"))
    return Check("clock", OK, f"{shown}")


def register(app: typer.Typer) -> None:
    @app.command("selftest")
    def selftest(
        config: Path | None = ConfigOpt,
        as_json: bool = JsonOpt,
        no_radio: bool = typer.Option(False, "--no-radio", help="Radio niet controleren."),
        lang: str | None = LangOpt,
    ) -> None:
        """Controleer configuratie, sleutels, roster, database, dienst, radio, schijfruimte en klok."""
        from nspgw.cli.texts import t

        lg = lang_of(lang)
        checks = run_checks(config, radio=not no_radio, lang=lg)
        failed = sum(c.status == FAIL for c in checks)
        if as_json:
            emit_json({"ok": failed == 0, "checks": [asdict(c) for c in checks]})
        else:
            from rich.console import Console
            from rich.table import Table

            colour = {OK: "green", WARN: "yellow", FAIL: "red", SKIP: "dim"}
            table = Table(title="nspgw selftest")
            for col in (("Controle", "Check"), ("Uitslag", "Result"), ("Toelichting", "Detail")):
                table.add_column(col[0] if lg == "nl" else col[1])
            for c in checks:
                table.add_row(c.name, f"[{colour[c.status]}]{t('selftest.' + c.status, lg)}[/]", c.detail)
            Console(width=140).print(table)
            typer.echo(t("selftest.summary_fail", lg, n=failed) if failed else t("selftest.summary_ok", lg))
        if failed:
            raise typer.Exit(1)
