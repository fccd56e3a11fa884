"""`nspgw status` (is the service running, radio, links, queue, airtime, notices) and `nspgw peers`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import typer

from nspgw.cli.context import ConfigOpt, JsonOpt, LangOpt, emit_json, lang_of, load_box


def _ago(age_s: float | None, lang: str) -> str:
    if age_s is None:
        return "-"
    s = max(0, int(age_s))
    unit = ("s", "min", "u") if lang == "nl" else ("s", "min", "h")
    if s < 120:
        return f"{s} {unit[0]}"
    if s < 7200:
        return f"{s // 60} {unit[1]}"
    return f"{s // 3600} {unit[2]}"


_REASONS_EN = {
    "de dienst heeft nog nooit gedraaid": "the service has never run",
    "de dienst is gestopt": "the service was stopped",
    "het dienstproces bestaat niet meer": "the service process no longer exists",
}


# The radio and MQTT adapters describe their state in Dutch (the daemon's log language); the beginnings
# an operator sees in `nspgw status`, in English. An unknown detail is shown as it is.
_DETAILS_EN = (
    ("verbonden met ", "connected to "), ("verbinden met ", "connecting to "), ("nog niet gestart", "not started yet"),
    ("dienst gestopt", "service stopped"), ("gestopt", "stopped"), ("starten", "starting"),
    ("radio uitgeschakeld in config", "radio disabled in the configuration"),
    ("MQTT uitgeschakeld in config", "MQTT disabled in the configuration"),
    ("radio gaf geen geldige configuratie: ", "the radio gave no valid configuration: "),
    ("verbinding met de radio verbroken", "connection to the radio lost"),
    ("radio reageert niet meer", "the radio stopped answering"),
    ("hartslag naar de radio mislukt", "heartbeat to the radio failed"), ("verzenden mislukt", "sending failed"),
    ("verbinding verbroken tijdens verzenden", "connection lost while sending"),
    ("MQTT-broker weigert inlog", "the MQTT broker refuses the login"),
)


def detail_in(detail: str, lang: str) -> str:
    if lang != "en":
        return detail
    for nl, en in _DETAILS_EN:
        if detail.startswith(nl):
            detail = en + detail[len(nl):]
            break
    return detail.replace("; opnieuw verbinden", "; reconnecting")


def reason_in(why: str, lang: str) -> str:
    """The daemon's reason (nspgw.daemon.status.daemon_running says it in Dutch) in the operator's language."""
    if lang != "en" or not why:
        return why
    if why.startswith("geen hartslag sinds "):
        return "no heartbeat for " + why.removeprefix("geen hartslag sinds ")
    return _REASONS_EN.get(why, why)


def backlog_lines(backlog: dict[str, dict[str, Any]] | None, lang: str) -> list[str]:
    """The operator's lines for the status record's `backlog`: per precedence with operators' messages waiting,
    how much and when it is expected to have gone; a hint when the duty cycle holds traffic back. Receipts and
    beacons alone are no backlog to act on (as on the console's health page): counted in one line."""
    from nspgw.cli.texts import t

    if backlog is None:  # a daemon from before the estimate
        return []
    busy = {k: v for k, v in backlog.items() if v.get("messages")}
    if not busy:
        control = sum(int(v.get("frames") or 0) for v in backlog.values())
        return [t("status_backlog_control", lang, frames=control) if control else t("status_backlog_none", lang)]
    out = [t("status_backlog", lang)]
    for k, v in busy.items():
        delay = v.get("expected_delay_s")
        when = t("backlog_unknown", lang) if delay is None else t("backlog_within", lang, delay=_ago(delay, lang))
        if v.get("duty_bound") and delay is not None:
            when += t("backlog_duty", lang)
        if v.get("expiring"):
            when += t("backlog_expiring", lang, n=v["expiring"])
        out.append(t("status_backlog_line", lang, prio=t("prio." + k, lang), n=v.get("messages", 0),
                     frames=v["frames"], air=float(v.get("airtime_s", 0.0)), when=when))
    if any(v.get("duty_bound") for v in busy.values()):
        out.append(t("status_backlog_hint", lang))
    return out


def collect(cfg: Any, lang: str) -> dict[str, Any]:
    from nspgw.cli.context import daemon_record, load_roster, open_store
    from nspgw.daemon.status import age_s

    roster = load_roster(cfg)
    with open_store(cfg, create=True) as store:
        record, running, why = daemon_record(store)
        notices = store.notices(10)
        outbox = store.outbox()
        custody = store.custody_count()
    rec = record or {}
    queued = sum(1 for r in outbox if r.state.value not in ("delivered", "expired"))
    peers = []
    heard, presence = rec.get("peers") or {}, rec.get("presence") or {}
    for addr in sorted({*heard, *presence}, key=int):
        e = roster.get(int(addr))
        p, pr = heard.get(addr) or {}, presence.get(addr)
        peers.append({"addr": int(addr), "name": e.name if e else f"#{addr}", "role": e.role.value if e else "",
                      "link": p.get("link"), "snr": p.get("snr"), "rssi": p.get("rssi"),
                      "last_heard_wall": p.get("wall"), "last_heard_s": age_s(rec, p.get("wall"), p.get("mono")),
                      # what the MQTT broker last said about the box (signed by it; docs/broker.md)
                      "presence": None if pr is None else ("online" if pr.get("online") else "offline"),
                      "presence_s": None if pr is None else age_s(rec, pr.get("wall"), pr.get("mono"))})
    return {
        "box": cfg.name, "running": running, "not_running_reason": reason_in(why, lang), "pid": rec.get("pid"),
        "heartbeat_wall": rec.get("heartbeat_wall"), "radio": rec.get("radio"), "mqtt": rec.get("mqtt"),
        "links": rec.get("links"), "queue": rec.get("queue"), "outbox_open": queued,
        "custody": rec.get("custody", custody), "airtime_used_ms": rec.get("airtime_used_ms"),
        "airtime_limit_ms": rec.get("airtime_limit_ms"), "airtime_left_ms": rec.get("airtime_left_ms"),
        "preset": rec.get("preset"), "peers": peers,
        # radio work per precedence and its expected delay in seconds from the heartbeat (core/backlog.py)
        "backlog": rec.get("backlog"),
        "notices": [{"kind": k, "text": tx, "wall": w} for k, tx, w in notices],
    }


def register(app: typer.Typer) -> None:
    @app.command("status")
    def status(
        as_json: bool = JsonOpt,
        config: Path | None = ConfigOpt,
        lang: str | None = LangOpt,
    ) -> None:
        """Draait de dienst, is de radio verbonden, wat staat in de wachtrij, hoeveel zendtijd is er nog."""
        from nspgw.cli.texts import t

        lg = lang_of(lang)
        s = collect(load_box(config), lg)
        if as_json:
            emit_json(s)
            return
        if s["running"]:
            typer.echo(t("status_running", lg, box=s["box"], pid=s["pid"]))
        else:
            typer.echo(t("status_not_running", lg, box=s["box"], why=s["not_running_reason"]))
        radio = s["radio"] or {}
        if radio:
            typer.echo(t("status_radio", lg, state=t("radio." + str(radio.get("status")), lg),
                         detail=detail_in(str(radio.get("detail", "")), lg)))
        mqtt = s["mqtt"] or {}
        if mqtt:
            typer.echo(t("status_ip", lg, state=t("radio." + str(mqtt.get("status")), lg),
                         detail=detail_in(str(mqtt.get("detail", "")), lg)))
        q = s["queue"] or {}
        parts = ", ".join(f"{t('prio.' + k, lg)} {v}" for k, v in q.items() if v)
        typer.echo(t("status_queue", lg, n=s["outbox_open"], parts=parts or "-", custody=s["custody"] or 0))
        if s["airtime_limit_ms"]:
            typer.echo(t("status_airtime", lg, used=s["airtime_used_ms"] / 1000, left=s["airtime_left_ms"] / 1000,
                         limit=s["airtime_limit_ms"] / 1000))
        if s["running"]:
            for line in backlog_lines(s["backlog"], lg):
                typer.echo(line)
        typer.echo(t("status_peers", lg, n=len(s["peers"])))
        for n in s["notices"][:5]:
            typer.echo(f"  ! {time.strftime('%d-%m %H:%M', time.localtime(n['wall']))} {n['text']}")

    @app.command("peers")
    def peers(
        as_json: bool = JsonOpt,
        config: Path | None = ConfigOpt,
        lang: str | None = LangOpt,
    ) -> None:
        """Andere kastjes die deze box gehoord heeft: wanneer, via welke verbinding, signaalsterkte."""
        from nspgw.cli.texts import t

        lg = lang_of(lang)
        s = collect(load_box(config), lg)
        if as_json:
            emit_json(s["peers"])
            return
        if not s["peers"]:
            typer.echo(t("no_peers", lg))
            return
        for p in s["peers"]:
            snr = f"SNR {p['snr']:.1f} dB" if p["snr"] is not None else ""
            rssi = f"RSSI {p['rssi']} dBm" if p["rssi"] is not None else ""
            via = t("via." + str(p["link"]), lg) if p["link"] else "-"
            heard = t("heard_ago", lg, ago=_ago(p["last_heard_s"], lg)) if p["link"] else ""
            broker = t("presence." + p["presence"], lg, ago=_ago(p["presence_s"], lg)) if p["presence"] else ""
            typer.echo(f"{p['name']:<20} {p['role']:<4} {via:<10} {heard:<20} {broker:<28} {snr}  {rssi}".rstrip())
