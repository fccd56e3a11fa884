"""The Send page: every form of nspgw.wire.forms_schema and free text, validated by `nspgw send`'s own code
(nspgw.cli.send.compose/accept), with a live estimate of the radio frames a message costs."""

from __future__ import annotations

import math
from typing import Any

from nspgw.console.pages import View, csrf_field, e
from nspgw.wire.forms_schema import SCHEMAS, FieldKind, FieldSpec
from nspgw.wire.frames import MAX_BROADCAST_FRAME, MAX_UNICAST_FRAME, ContentType

KINDS = ("noodmelding", "sitrap", "aanvraag", "bulletin", "text")
# The console asks what a meldkamer asks; the two questions without a field of their own in the form
# (NOODMELDING v1) travel at the front of its remarks.
EXTRA_NOOD = ("wat", "gevaar")
TEXTAREA = 500  # text fields that may be longer than this get a text area (remarks, needs)


def frames_for(body_len: int, broadcast: bool) -> int:
    """Radio frames a body of this size needs (worst case: the custody envelope of a relayed message)."""
    from nspgw.wire.codec import CUSTODY_OVERHEAD, FIXED_OVERHEAD, MESSAGE_FIELDS_MAX

    if broadcast:
        per = MAX_BROADCAST_FRAME - FIXED_OVERHEAD - MESSAGE_FIELDS_MAX
        return max(1, math.ceil((body_len + 64) / per))  # the last fragment also carries the signature
    return max(1, math.ceil(body_len / (MAX_UNICAST_FRAME - CUSTODY_OVERHEAD - MESSAGE_FIELDS_MAX)))


def recipients(v: View, kind: str) -> list[tuple[str, str]]:
    """Whom this box may write to from the console: an NSP its CP and the crisis team; a CP its NSPs, the
    other CPs and the crisis team; the crisis team every post. First the likeliest."""
    from nspgw.crypto.roster import Role

    if kind == "bulletin":
        return [("alle", "alle posten" if v.lang == "nl" else "all posts")]
    me = v.me
    picked = []
    for x in v.roster.entries:
        if x.revoked or x.addr == me.addr:
            continue
        if (me.role == Role.GCT or x.role == Role.GCT or x.addr == me.parent
                or (me.role == Role.CP and (x.parent == me.addr or x.role == Role.CP))):
            rank = 0 if x.addr == me.parent else 1 if x.role == Role.GCT else 2
            picked.append((rank, x.name, f"{x.name} ({x.role.value.upper()})"))
    return [(name, label) for _, name, label in sorted(picked)]


def compose_values(kind: str, form: dict[str, str], lang: str) -> tuple[Any, bytes]:
    """(ContentType, body) from the posted fields; UsageError with nspgw send's words for bad input."""
    from nspgw.cli.send import compose

    if kind == "text":
        return compose(None, form.get("text", ""), None, lang)
    values: dict[str, object] = {k[2:]: val.strip() for k, val in form.items() if k.startswith("f_") and val.strip()}
    if kind == "noodmelding":
        heads = [f"{'Wat' if lang == 'nl' else 'What'}: {form.get('wat', '').strip()}" if form.get("wat", "").strip()
                 else "", f"{'Gevaar' if lang == 'nl' else 'Danger'}: {form.get('gevaar', '').strip()}"
                 if form.get("gevaar", "").strip() else ""]
        remarks = ". ".join(x for x in [*heads, str(values.get("remarks", ""))] if x)
        if remarks:
            values["remarks"] = remarks
    return compose(kind, None, values, lang)


def _field(v: View, spec: FieldSpec, value: str) -> str:
    label = spec.label_nl if v.lang == "nl" else spec.label_en
    hint = spec.help_nl if v.lang == "nl" else spec.help_en
    req = f' <span class="req">({e(v.t("send.required"))})</span>' if spec.required else ""
    name = f"f_{spec.name}"
    required = " required" if spec.required else ""
    if spec.kind == FieldKind.ENUM:
        opts = "" if spec.required else '<option value=""></option>'
        opts += "".join(
            f'<option value="{e(c.name)}"{" selected" if c.name == value else ""}>'
            f'{e(c.label_nl if v.lang == "nl" else c.label_en)}</option>' for c in spec.choices)
        control = f'<select name="{name}"{required}>{opts}</select>'
    elif spec.kind == FieldKind.INT:
        control = (f'<input name="{name}" inputmode="numeric" pattern="[0-9]*" value="{e(value)}"'
                   f' min="{spec.min}" max="{spec.max}"{required}>')
    elif spec.kind in (FieldKind.ITEMS,) or (spec.kind == FieldKind.TEXT and (spec.max_len or 0) > TEXTAREA):
        control = f'<textarea name="{name}" rows="3"{required}>{e(value)}</textarea>'
    else:
        maxlen = f' maxlength="{spec.max_len}"' if spec.kind == FieldKind.TEXT and spec.max_len else ""
        control = f'<input name="{name}" value="{e(value)}"{maxlen}{required} autocomplete="off">'
    small = f"<small>{e(hint)}</small>" if hint else ""
    return f'<label class="field">{e(label)}{req}{control}{small}</label>'


def send_page(v: View, kind: str, form: dict[str, str] | None = None) -> str:
    from nspgw.cli.send import DEFAULT_PRECEDENCE, FORM_NAMES

    form = form or {}
    tabs = "".join(f'<a href="/send?kind={k}" class="tab {"active" if k == kind else ""}">'
                   f'{e(v.t("send.kind." + k))}</a>' for k in KINDS if k != "bulletin" or v.role == "gct")
    to_opts = "".join(f'<option value="{e(val)}"{" selected" if val == form.get("to") else ""}>{e(label)}</option>'
                      for val, label in recipients(v, kind))
    ct_name = FORM_NAMES.get(kind, "TEXT")
    default_prio = DEFAULT_PRECEDENCE[ct_name].lower()
    chosen = form.get("priority", default_prio)
    prio = "".join(f'<option value="{p}"{" selected" if p == chosen else ""}>{e(v.t("prio." + p))}</option>'
                   for p in ("flash", "immediate", "priority", "routine"))
    fields = []
    if kind == "text":
        fields.append(f'<label class="field">{e(v.t("send.text"))}<textarea name="text" rows="6" maxlength="1000" '
                      f'required>{e(form.get("text", ""))}</textarea></label>')
    else:
        schema = SCHEMAS[ContentType[ct_name]]
        for spec in schema.fields:
            if kind == "noodmelding" and spec.name == "reporter":
                for extra in EXTRA_NOOD:
                    fields.append(f'<label class="field">{e(v.t("send." + extra))}<textarea name="{extra}" rows="2" '
                                  f'maxlength="300">{e(form.get(extra, ""))}</textarea></label>')
            fields.append(_field(v, spec, form.get(f"f_{spec.name}", "")))
        if kind == "noodmelding" and v.role != "gct":
            checked = " checked" if form.get("cc_gct", "1" if not form else "") else ""
            fields.append(f'<label class="check"><input type="checkbox" name="cc_gct" value="1"{checked}>'
                          f'{e(v.t("send.cc_gct"))}</label>')
    return (f'<h1>{e(v.t("send.title"))}</h1><div class="tabs">{tabs}</div>'
            f'<form method="post" action="/send?kind={e(kind)}" class="send" id="send-form" data-kind="{e(kind)}">'
            f'{csrf_field(v)}<div class="row"><label class="field">{e(v.t("send.to"))}<select name="to">{to_opts}'
            f'</select></label><label class="field">{e(v.t("send.priority"))}<select name="priority">{prio}</select>'
            f'</label></div>{"".join(fields)}<p id="preview" class="preview" aria-live="polite"></p>'
            f'<button class="btn primary big" type="submit">{e(v.t("send.submit"))}</button></form>')
