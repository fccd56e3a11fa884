"""Scenario files: a drill of real nspgw boxes over the simulated mesh, run on virtual time.

```toml
[scenario]
name = "CP Noord valt drie uur uit"
seed = 7
preset = "LONG_FAST"
duration = "8h"            # virtual time; "90s", "10m", "3h", "2d" or seconds

[[box]]                    # optional: without [[box]] the standard demo network (GCT 1, CP 10/11, NSP 101/102/201)
addr = 1
name = "GCT Elsterwijk"
role = "gct"               # gct | cp | nsp
parent = 10                # an NSP's coordinatiepunt

[[link]]                   # who hears whom on the radio
a = 1
b = 10
loss = 0.1                 # 0..1
snr = 8.0

[[event]]
at = "5m"
send = { id = "m1", from = 101, to = 1, text = "Stroom uit", precedence = "flash", ttl = "1h" }
[[event]]
at = "10m"
box_down = 10              # also: box_up, restart, link_down = [a, b], link_up = [a, b], ip_up, ip_down

[[expect]]
message = "m1"
state = "delivered"        # delivered | expired
within = "4h"              # optional: after it was sent
```
Every error is a `ConfigError` naming the field (`event[2].send.to: unknown box 99`).
"""

from __future__ import annotations

import re
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nspgw.core.airtime import preset as lookup_preset
from nspgw.crypto.enrol import BoxSpec, demo_boxes
from nspgw.crypto.roster import Role
from nspgw.errors import ConfigError
from nspgw.ids import BROADCAST_ADDR, BoxAddr
from nspgw.sim.scenario_net import SimNet
from nspgw.wire.frames import Precedence

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_BOX_ACTIONS = ("box_down", "box_up", "restart", "ip_up", "ip_down")
_LINK_ACTIONS = ("link_down", "link_up")


@dataclass(frozen=True)
class SendSpec:
    id: str
    src: int
    dst: int
    text: str
    precedence: Precedence
    ttl_s: int | None


@dataclass(frozen=True)
class EventSpec:
    at_s: float
    action: str
    send: SendSpec | None = None
    box: int | None = None
    link: tuple[int, int] | None = None


@dataclass(frozen=True)
class ExpectSpec:
    message: str
    state: str
    within_s: float | None


@dataclass(frozen=True)
class Scenario:
    name: str
    seed: int
    preset: str
    duration_s: float
    boxes: tuple[BoxSpec, ...]
    links: tuple[tuple[int, int, float, float], ...]
    events: tuple[EventSpec, ...]
    expects: tuple[ExpectSpec, ...] = field(default=())


def parse_duration(value: object, where: str) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    if isinstance(value, str) and re.fullmatch(r"(\d+(?:\.\d+)?[smhd]?)+", value.replace(" ", "")):
        parts = re.findall(r"(\d+(?:\.\d+)?)([smhd]?)", value.replace(" ", ""))
        return sum(float(n) * _UNITS[u or "s"] for n, u in parts)
    raise ConfigError(f"{where}: not a duration: {value!r} (use e.g. 90s, 10m, 3h, 2d)")


def _get(d: dict[str, Any], key: str, where: str, typ: type | tuple[type, ...], default: Any = ...) -> Any:
    if key not in d:
        if default is ...:
            raise ConfigError(f"{where}.{key}: missing")
        return default
    v = d[key]
    if not isinstance(v, typ) or (isinstance(v, bool) and typ is not bool):
        raise ConfigError(f"{where}.{key}: wrong type ({type(v).__name__})")
    return v


def load_scenario(path: Path) -> Scenario:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read scenario: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return parse_scenario(data, str(path))


def parse_scenario(data: dict[str, Any], origin: str = "scenario") -> Scenario:
    head = _get(data, "scenario", origin, dict, {})
    name = _get(head, "name", "scenario", str, origin)
    seed = _get(head, "seed", "scenario", int, 1)
    preset = _get(head, "preset", "scenario", str, "LONG_FAST")
    try:
        lookup_preset(preset)
    except Exception:
        raise ConfigError(f"scenario.preset: unknown modem preset {preset!r}") from None
    duration = parse_duration(head.get("duration", "1h"), "scenario.duration")
    boxes = _boxes(data)
    addrs = {b.addr for b in boxes}

    def box(v: object, where: str) -> int:
        if not isinstance(v, int) or isinstance(v, bool) or v not in addrs:
            raise ConfigError(f"{where}: unknown box {v!r}")
        return v

    links = []
    for i, lk in enumerate(_get(data, "link", origin, list, [])):
        w = f"link[{i}]"
        if not isinstance(lk, dict):
            raise ConfigError(f"{w}: must be a table")
        a, b = box(lk.get("a"), f"{w}.a"), box(lk.get("b"), f"{w}.b")
        loss = float(_get(lk, "loss", w, (int, float), 0.0))
        if not 0.0 <= loss <= 1.0:
            raise ConfigError(f"{w}.loss: must be between 0 and 1")
        links.append((a, b, loss, float(_get(lk, "snr", w, (int, float), 10.0))))
    events = []
    ids: set[str] = set()
    for i, ev in enumerate(_get(data, "event", origin, list, [])):
        w = f"event[{i}]"
        if not isinstance(ev, dict):
            raise ConfigError(f"{w}: must be a table")
        at = parse_duration(ev.get("at", 0), f"{w}.at")
        kinds = [k for k in ("send", *_BOX_ACTIONS, *_LINK_ACTIONS) if k in ev]
        if len(kinds) != 1:
            raise ConfigError(f"{w}: needs exactly one of send, {', '.join(_BOX_ACTIONS + _LINK_ACTIONS)}")
        kind = kinds[0]
        if kind == "send":
            s = _get(ev, "send", w, dict)
            ws = f"{w}.send"
            sid = _get(s, "id", ws, str, f"m{len(ids) + 1}")
            if sid in ids:
                raise ConfigError(f"{ws}.id: {sid!r} used twice")
            ids.add(sid)
            to = s.get("to")
            dst = BROADCAST_ADDR if to == "all" else box(to, f"{ws}.to")
            prec_name = _get(s, "precedence", ws, str, "routine").upper()
            if prec_name not in Precedence.__members__:
                raise ConfigError(f"{ws}.precedence: {prec_name.lower()!r} is not flash/immediate/priority/routine")
            text = _get(s, "text", ws, str)
            if not text:
                raise ConfigError(f"{ws}.text: empty")
            ttl = int(parse_duration(s["ttl"], f"{ws}.ttl")) if "ttl" in s else None
            events.append(EventSpec(at, "send", send=SendSpec(sid, box(s.get("from"), f"{ws}.from"), dst, text,
                                                               Precedence[prec_name], ttl)))
        elif kind in _BOX_ACTIONS:
            events.append(EventSpec(at, kind, box=box(ev[kind], f"{w}.{kind}")))
        else:
            pair = ev[kind]
            if not isinstance(pair, list) or len(pair) != 2:
                raise ConfigError(f"{w}.{kind}: must be [a, b]")
            events.append(EventSpec(at, kind, link=(box(pair[0], f"{w}.{kind}[0]"), box(pair[1], f"{w}.{kind}[1]"))))
    expects = []
    for i, ex in enumerate(_get(data, "expect", origin, list, [])):
        w = f"expect[{i}]"
        if not isinstance(ex, dict):
            raise ConfigError(f"{w}: must be a table")
        msg = _get(ex, "message", w, str)
        if msg not in ids:
            raise ConfigError(f"{w}.message: no send with id {msg!r}")
        state = _get(ex, "state", w, str, "delivered")
        if state not in ("delivered", "expired"):
            raise ConfigError(f"{w}.state: must be delivered or expired")
        within = parse_duration(ex["within"], f"{w}.within") if "within" in ex else None
        expects.append(ExpectSpec(msg, state, within))
    events.sort(key=lambda e: e.at_s)
    return Scenario(name, seed, preset, duration, boxes, tuple(links), tuple(events), tuple(expects))


def _boxes(data: dict[str, Any]) -> tuple[BoxSpec, ...]:
    raw = data.get("box")
    if raw is None:
        return tuple(demo_boxes())
    if not isinstance(raw, list) or not raw:
        raise ConfigError("box: must be a list of [[box]] tables")
    out = []
    for i, b in enumerate(raw):
        w = f"box[{i}]"
        if not isinstance(b, dict):
            raise ConfigError(f"{w}: must be a table")
        addr = _get(b, "addr", w, int)
        if not 1 <= addr < BROADCAST_ADDR:
            raise ConfigError(f"{w}.addr: must be 1..4094")
        role = _get(b, "role", w, str).lower()
        if role not in {r.value for r in Role}:
            raise ConfigError(f"{w}.role: must be gct, cp or nsp")
        parent = b.get("parent")
        if parent is not None and (not isinstance(parent, int) or isinstance(parent, bool)):
            raise ConfigError(f"{w}.parent: must be a box address")
        out.append(BoxSpec(BoxAddr(addr), _get(b, "name", w, str, f"box {addr}"), Role(role),
                           0x2000_0000 + addr, BoxAddr(parent) if parent is not None else None))
    addrs = [b.addr for b in out]
    if len(set(addrs)) != len(addrs):
        raise ConfigError("box: an address is used twice")
    for i, b in enumerate(out):
        if b.parent is not None and b.parent not in addrs:
            raise ConfigError(f"box[{i}].parent: unknown box {b.parent}")
    return tuple(out)


@dataclass
class MessageResult:
    id: str
    src: int
    dst: int
    precedence: str
    sent_at_s: float
    state: str
    done_at_s: float | None
    readers: int  # boxes that stored it (1, or every box for a bulletin)


@dataclass
class ScenarioResult:
    name: str
    duration_s: float
    messages: list[MessageResult]
    expectations: list[tuple[str, bool, str]]  # (message id, ok, explanation)
    airtime_s: dict[str, float]
    notices: list[tuple[int, str, str]]

    @property
    def ok(self) -> bool:
        return all(ok for _, ok, _ in self.expectations)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "duration_s": self.duration_s, "ok": self.ok,
            "messages": [vars(m) for m in self.messages],
            "expectations": [{"message": m, "ok": ok, "detail": d} for m, ok, d in self.expectations],
            "airtime_s": self.airtime_s,
            "notices": [{"box": b, "kind": k, "text": t} for b, k, t in self.notices],
        }


def run_scenario(sc: Scenario, workdir: Path | None = None) -> ScenarioResult:
    """Run a scenario on fresh stores (in `workdir`, or a temporary directory)."""
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="nspgw-scenario-") as tmp:
            return run_scenario(sc, Path(tmp))
    net = SimNet(list(sc.boxes), workdir, seed=sc.seed, preset=sc.preset)
    try:
        for a, b, loss, snr in sc.links:
            net.mesh.set_link(f"box{a}", f"box{b}", loss=loss, snr=snr)
        sent: dict[str, tuple[SendSpec, int, float]] = {}
        for ev in sc.events:
            net.run_until(ev.at_s)
            _apply(net, ev, sent)
        net.run_until(sc.duration_s)
        return _result(sc, net, sent)
    finally:
        net.close()


def _apply(net: SimNet, ev: EventSpec, sent: dict[str, tuple[SendSpec, int, float]]) -> None:
    if ev.send is not None:
        s = ev.send
        m = net.send(s.src, s.dst, s.text.encode("utf-8"), s.precedence, s.ttl_s)
        sent[s.id] = (s, m.seq, net.now)
    elif ev.box is not None:
        if ev.action in ("box_down", "box_up"):
            net.set_up(ev.box, ev.action == "box_up")
        elif ev.action == "restart":
            net.restart(ev.box)
        else:
            net.set_ip(ev.box, ev.action == "ip_up")
    elif ev.link is not None:
        net.mesh.set_link_up(f"box{ev.link[0]}", f"box{ev.link[1]}", ev.action == "link_up")


def _result(sc: Scenario, net: SimNet, sent: dict[str, tuple[SendSpec, int, float]]) -> ScenarioResult:
    messages = []
    for sid, (s, seq, t0) in sent.items():
        t_done, state = net.outcomes.get((s.src, seq), (None, ""))
        if not state:
            state = net.outbox_state(s.src, seq)
        readers = len({r for _, r, o, q in net.deliveries if (o, q) == (s.src, seq)})
        messages.append(MessageResult(sid, s.src, s.dst, s.precedence.name.lower(), round(t0, 1), state,
                                      None if t_done is None else round(t_done - t0, 1), readers))
    by_id = {m.id: m for m in messages}
    checks = []
    for ex in sc.expects:
        m = by_id[ex.message]
        ok = m.state == ex.state and (ex.within_s is None or (m.done_at_s is not None and m.done_at_s <= ex.within_s))
        detail = f"{m.state}" + (f" na {m.done_at_s:.0f} s" if m.done_at_s is not None else "")
        checks.append((ex.message, ok, detail))
    airtime = {f"box{k}": round(v["airtime_s"], 1) for k, v in
               ((name[3:], st) for name, st in net.mesh.stats().items())}
    notices = [(a, n.kind, n.text) for a, b in net.boxes.items() for n in b.notices]
    return ScenarioResult(sc.name, sc.duration_s, messages, checks, airtime, notices)
