"""`nspgw ping NAME`: a probe over the mesh (or IP) through the running daemon; round trip and signal."""

from __future__ import annotations

from pathlib import Path

import typer

from nspgw.cli.context import ConfigOpt, JsonOpt, LangOpt, emit_json, lang_of, load_box


def register(app: typer.Typer) -> None:
    @app.command("ping")
    def ping(
        name: str = typer.Argument(..., help="Naam van het andere kastje, of cp / gct."),
        timeout: float = typer.Option(60.0, "--timeout", min=1.0, max=300.0, help="Wachttijd in seconden."),
        as_json: bool = JsonOpt,
        config: Path | None = ConfigOpt,
        lang: str | None = LangOpt,
    ) -> None:
        """Meet de rondreistijd naar een ander kastje (heen en terug over de mesh; vraagt de dienst)."""
        from nspgw.cli.context import load_roster, resolve_box
        from nspgw.cli.texts import t
        from nspgw.daemon.io import control_request
        from nspgw.errors import NspgwError

        lg = lang_of(lang)
        cfg = load_box(config)
        roster = load_roster(cfg)
        entry = resolve_box(cfg, roster, name, lg)
        answer = control_request(cfg.state_dir, {"cmd": "ping", "to": int(entry.addr), "timeout_s": timeout},
                                 timeout)
        _journal(cfg, int(entry.addr), answer)
        if as_json:
            emit_json(dict(answer, to=entry.name))
        if not answer.get("ok"):
            class PingFailed(NspgwError):
                exit_code = 1

            if as_json:
                raise typer.Exit(1)
            raise PingFailed(t("ping_failed", lg, name=entry.name, why=answer.get("error", "?")))
        if as_json:
            return
        signal = ""
        if answer.get("snr") is not None:
            signal = t("ping_signal", lg, snr=answer["snr"], rssi=answer.get("rssi"))
        typer.echo(t("ping_ok", lg, name=entry.name, rtt=answer["rtt_s"], via=t("via." + answer["link"], lg))
                   + signal)


def _journal(cfg: object, to: int, answer: dict[str, object]) -> None:
    """The ping, its answer or its failure, in the journal (an operator action, docs/journal.md)."""
    from nspgw.cli.context import open_store

    result = (f"{answer.get('rtt_s')} s via {answer.get('link')}" if answer.get("ok")
              else f"mislukt: {answer.get('error', '?')}")
    with open_store(cfg, create=True) as store:  # type: ignore[arg-type]
        store.journal_record("operator", {"action": "ping", "to": to, "result": result})
