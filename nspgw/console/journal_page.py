"""The console's Journaal page: the box's communications log with filters (period, kind, post) and the
export as CSV, JSON or PDF. A thin view over what `nspgw journaal show|export` use: the store's
`journal_entries`, `nspgw.cli.journaal_texts` for every sentence and time, `journaal_ops.export_bytes` for the
files (docs/journal.md). The export is a POST with the session's CSRF token: it signs the journal's head and is
itself journalled under the operator's name, so it is an action, not a link another site could trigger."""

from __future__ import annotations

from typing import Any

from nspgw.console.pages import View, csrf_field, e

SHOWN_MAX = 500  # newest rows on the page; the export carries the whole period
PERIODS = ("8h", "24h", "7d", "all")
FORMATS = ("pdf", "csv", "json")


def filters(q: dict[str, str], roster: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """(store filters, the chosen values as the form shows them) from a query or form; unknown values are
    ignored (the page then shows the default) rather than refused: nothing here changes state."""
    from nspgw.journal.chain import KINDS

    period = q.get("period", "24h") if q.get("period", "24h") in PERIODS else "24h"
    kind = q.get("kind", "") if q.get("kind", "") in KINDS else ""
    names = {x.name: int(x.addr) for x in roster.entries} if roster is not None else {}
    post = q.get("post", "") if q.get("post", "") in names else ""
    return ({"since": since_of(period), "kinds": [kind] if kind else None, "post": names.get(post)},
            {"period": period, "kind": kind, "post": post})


def since_of(period: str) -> float | None:
    import time

    spans = {"8h": 8 * 3600, "24h": 24 * 3600, "7d": 7 * 86400}
    return time.time() - spans[period] if period in spans else None


def journal_page(v: View) -> str:
    from nspgw.cli.journaal_ops import namer
    from nspgw.cli.journaal_texts import describe, jt, when
    from nspgw.journal.chain import KINDS

    f, chosen = filters(v.query, v.roster)
    entries = v.store.journal_entries(**f)
    name = namer(v.roster)
    me = int(v.me.addr) if v.me is not None else None

    def options(values: list[tuple[str, str]], current: str) -> str:
        return "".join(f'<option value="{e(val)}"{" selected" if val == current else ""}>{e(label)}</option>'
                       for val, label in values)

    period_opts = options([(p, v.t("journal.period." + p)) for p in PERIODS], chosen["period"])
    kind_opts = options([("", v.t("journal.all"))] + [(k, jt("kind." + k, v.lang)) for k in KINDS
                                                      if k not in ("custody_out",)], chosen["kind"])
    posts = [x.name for x in v.roster.entries if not x.revoked] if v.roster is not None else []
    post_opts = options([("", v.t("journal.all"))] + [(p, p) for p in posts], chosen["post"])
    form = (f'<form method="get" action="/journal" class="filters">'
            f'<label>{e(v.t("journal.period"))}<select name="period">{period_opts}</select></label>'
            f'<label>{e(v.t("journal.kind"))}<select name="kind">{kind_opts}</select></label>'
            f'<label>{e(v.t("journal.post"))}<select name="post">{post_opts}</select></label>'
            f'<button class="btn small">{e(v.t("journal.filter"))}</button></form>')
    export = (f'<form method="post" action="/journal/export" class="export">{csrf_field(v)}'
              f'<input type="hidden" name="period" value="{e(chosen["period"])}">'
              f'<span>{e(v.t("journal.export"))}</span>'
              + "".join(f'<button name="format" value="{x}" class="btn small">{x.upper()}</button>' for x in FORMATS)
              + f'<small>{e(v.t("journal.export_hint"))}</small></form>')
    shown = entries[-SHOWN_MAX:][::-1]  # newest first, as on the other pages
    if not shown:
        table = f'<p class="empty">{e(jt("none", v.lang))}</p>'
    else:
        head = "".join(f"<th>{e(jt('col.' + c, v.lang))}</th>" for c in ("n", "time", "clock", "kind", "actor", "what"))
        rows = []
        for x in shown:
            tm, clock = when(x, v.lang)
            unsure = " unsure" if x.clock == "unsync" and not x.redated else ""
            rows.append(f'<tr class="j-{e(x.kind)}"><td>{x.n}</td><td>{e(tm)}</td><td class="clock{unsure}">'
                        f'{e(clock)}</td><td>{e(jt("kind." + x.kind, v.lang))}</td><td>{e(x.actor)}</td>'
                        f'<td>{e(describe(x, v.lang, name, me))}</td></tr>')
        more = (f'<p class="hint">{e(v.t("journal.more", shown=SHOWN_MAX, total=len(entries)))}</p>'
                if len(entries) > SHOWN_MAX else "")
        table = f'<div class="table"><table class="journal"><tr>{head}</tr>{"".join(rows)}</table></div>{more}'
    return f'<h1>{e(v.t("journal.title"))}</h1>{form}{export}{table}'
