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
pos = [0, 3000]            # optional, metres: placed boxes hear each other by distance (sim/propagation.py)
radio_role = "CLIENT_MUTE" # optional: this box's Meshtastic device role instead of its profile's
                           #   (firmware-profiles/<role>.yaml; a [network] takes nsp_radio_role etc.)

[propagation]              # optional: model = "log-distance" (exponent = 3.5) or "hata-suburban"
model = "log-distance"     #   (base_height_m = 30, mobile_height_m = 1.5)

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

import os
import re
import tempfile
import time
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from nspgw.cli.texts import notice_text
from nspgw.core.airtime import preset as lookup_preset
from nspgw.crypto.enrol import BoxSpec, demo_boxes
from nspgw.crypto.roster import Role
from nspgw.daemon.trace import Trace
from nspgw.errors import ConfigError
from nspgw.ids import BROADCAST_ADDR, BoxAddr
from nspgw.sim import propagation, scenario_gen
from nspgw.sim.box_radio import box_radio, check_radio_role
from nspgw.sim.scenario_net import SimNet
from nspgw.sim.scenario_report import MessageResult, ScenarioResult, figures
from nspgw.wire.frames import Precedence

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_BOX_ACTIONS = ("box_down", "box_up", "restart", "ip_up", "ip_down")
_LINK_ACTIONS = ("link_down", "link_up")
# Keys of [scenario]; any other is reported and ignored (a typo, or a key older files set that the runner
# no longer has: how frames leave is the daemon's own policy now, nspgw/daemon/driver.py).
HEAD_KEYS = ("name", "seed", "preset", "duration", "drain", "traffic_from", "presence")


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
    traffic_from_s: float = 0.0
    drain_s: float = 0.0
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    # [[box]] pos = [x, y] in metres, or a generated municipality; their links are already in `links`
    positions: tuple[tuple[int, tuple[float, float]], ...] = ()
    base_dir: Path = Path(".")
    # The simulated broker relays presence (retained status, Last Will); false: boxes that publish none.
    presence: bool = True
    ignored: tuple[str, ...] = ()  # [scenario] keys the runner does not know (`nspgw sim run` warns)
    # (box, Meshtastic device role) where a scenario overrides the role of the box's firmware profile
    radio_roles: tuple[tuple[int, str], ...] = ()

    def with_seed(self, seed: int) -> Scenario:
        """The same scenario file with another random seed: other traffic, faults and (geo) map, same rules."""
        raw = {**self.raw, "scenario": {**self.raw.get("scenario", {}), "seed": seed}}
        again = parse_scenario(raw, self.name, self.base_dir, duration_s=self.duration_s)
        return replace(again, presence=self.presence, ignored=self.ignored)

    def with_duration(self, duration_s: float) -> Scenario:
        """The same scenario shortened or stretched: generated traffic and faults scale with the duration,
        the drain keeps its share; hand-written events after the new end are dropped."""
        again = parse_scenario(self.raw, self.name, self.base_dir, duration_s=duration_s)
        return replace(again, presence=self.presence, ignored=self.ignored)


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
    return parse_scenario(data, str(path), path.parent)


def parse_scenario(data: dict[str, Any], origin: str = "scenario", base_dir: Path = Path("."), *,
                   duration_s: float | None = None) -> Scenario:
    head = _get(data, "scenario", origin, dict, {})
    name = _get(head, "name", "scenario", str, origin)
    seed = _get(head, "seed", "scenario", int, 1)
    preset = _get(head, "preset", "scenario", str, "LONG_FAST")
    try:
        lookup_preset(preset)
    except Exception:
        raise ConfigError(f"scenario.preset: unknown modem preset {preset!r}") from None
    ignored = tuple(sorted(str(k) for k in head if k not in HEAD_KEYS))
    full = parse_duration(head.get("duration", "1h"), "scenario.duration")
    duration = full if duration_s is None else duration_s
    # A shortened run keeps its drain (the time to settle is physical) and squeezes the active part:
    # traffic window and [[fault]] times scale with it; rates (per_hour, power cuts per day) stay.
    full_drain = parse_duration(head.get("drain", 0), "scenario.drain")
    drain = min(full_drain, duration / 2)
    scale = (duration - drain) / (full - full_drain) if full > full_drain else 1.0
    t_from = parse_duration(head.get("traffic_from", 0), "scenario.traffic_from") * scale
    extra: dict[int, float] = {}  # geo [network]: the tier's loss on top of the path-loss model's
    if "network" in data:
        if "box" in data or "link" in data:
            raise ConfigError("network: use either [network] or [[box]]/[[link]], not both")
        net_cfg = _get(data, "network", origin, dict)
        gen_boxes, gen_links = scenario_gen.network_boxes(net_cfg)
        boxes = tuple(gen_boxes)
        placement = net_cfg.get("placement", "links")
        if placement not in ("links", "geo"):
            raise ConfigError(f"network.placement: {placement!r} is not links or geo")
        # geo: a generated municipality; who hears whom follows from the map (sim/propagation.py)
        positions = propagation.place_municipality(gen_boxes, net_cfg, seed) if placement == "geo" else {}
        if positions:  # the tier losses stay as extra, independent loss (interference, fading)
            extra = {a: loss for a, _b, loss, _s in gen_links} | {b: loss for _a, b, loss, _s in gen_links}
            gen_links = []
    else:
        boxes, gen_links = _boxes(data), []
        positions = dict(_positions(data))
    addrs = {b.addr for b in boxes}

    def box(v: object, where: str) -> int:
        if not isinstance(v, int) or isinstance(v, bool) or v not in addrs:
            raise ConfigError(f"{where}: unknown box {v!r}")
        return v

    links = list(gen_links)
    for i, lk in enumerate(_get(data, "link", origin, list, [])):
        w = f"link[{i}]"
        if not isinstance(lk, dict):
            raise ConfigError(f"{w}: must be a table")
        a, b = box(lk.get("a"), f"{w}.a"), box(lk.get("b"), f"{w}.b")
        loss = float(_get(lk, "loss", w, (int, float), 0.0))
        if not 0.0 <= loss <= 1.0:
            raise ConfigError(f"{w}.loss: must be between 0 and 1")
        links.append((a, b, loss, float(_get(lk, "snr", w, (int, float), 10.0))))
    model = propagation.parse_model(data.get("propagation"))
    if positions:  # placed boxes hear each other by distance and preset; a hand-written [[link]] wins
        computed = propagation.geo_links(positions, preset, model, {(a, b) for a, b, _, _ in links})
        if extra:
            computed = [(a, b, round(1 - (1 - lo) * (1 - max(extra.get(a, 0.0), extra.get(b, 0.0))), 4), snr)
                        for a, b, lo, snr in computed]
        links = computed + links
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
    events += _generated(data, boxes, links, seed, t_from, duration, drain, base_dir, scale)
    events = [e for e in events if e.at_s <= duration]
    pairs = {frozenset((a, b)) for a, b, _, _ in links}
    for e in events:  # placed boxes out of each other's reach have no link to cut
        if e.link is not None and frozenset(e.link) not in pairs:
            raise ConfigError(f"{e.action} {e.link[0]}-{e.link[1]}: these boxes have no radio link to change")
    events.sort(key=lambda e: e.at_s)
    radio_roles = _radio_roles(data, boxes)
    return Scenario(name, seed, preset, duration, boxes, tuple(links), tuple(events), tuple(expects),
                    traffic_from_s=t_from, drain_s=drain, raw=data, base_dir=base_dir,
                    positions=tuple(sorted(positions.items())),
                    ignored=ignored, presence=_get(head, "presence", "scenario", bool, True),
                    radio_roles=radio_roles)


# [network] keys that give every generated box of a post type another device role than its profile's.
NETWORK_RADIO_ROLE_KEYS = {f"{r.value}_radio_role": r for r in Role}


def _radio_roles(data: dict[str, Any], boxes: tuple[BoxSpec, ...]) -> tuple[tuple[int, str], ...]:
    """Device-role overrides: `[network] nsp_radio_role` (and cp_, gct_) for a generated network, or
    `radio_role` on a `[[box]]`. Checked here (ConfigError naming the field); firmware's own rules (deprecated
    roles stored as CLIENT, installRoleDefaults) apply when the box's radio is set up (sim/box_radio.py)."""
    out: dict[int, str] = {}
    net = data.get("network")
    if isinstance(net, dict):
        for key, post in NETWORK_RADIO_ROLE_KEYS.items():
            if key in net:
                role = check_radio_role(net[key], f"network.{key}")
                out.update({int(b.addr): role for b in boxes if b.role == post})
    for i, b in enumerate(data.get("box") or []):
        if isinstance(b, dict) and "radio_role" in b:
            out[int(b["addr"])] = check_radio_role(b["radio_role"], f"box[{i}].radio_role")
    return tuple(sorted(out.items()))


def _positions(data: dict[str, Any]) -> tuple[tuple[int, tuple[float, float]], ...]:
    """Placed boxes hear each other by distance (sim/propagation.py); a [[link]] overrides its pair."""
    out = []
    for i, b in enumerate(data.get("box") or []):
        if isinstance(b, dict) and "pos" in b:
            pos = b["pos"]
            if (not isinstance(pos, list) or len(pos) != 2
                    or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in pos)):
                raise ConfigError(f"box[{i}].pos: must be [x, y] in metres")
            out.append((int(b["addr"]), (float(pos[0]), float(pos[1]))))
    return tuple(out)


def _generated(data: dict[str, Any], boxes: tuple[BoxSpec, ...], links: list[tuple[int, int, float, float]],
               seed: int, t_from: float, duration: float, drain: float, base_dir: Path,
               scale: float) -> list[EventSpec]:
    end = max(duration - drain, t_from)
    sends = scenario_gen.traffic(_get(data, "traffic", "scenario", list, []), boxes, seed, t_from, end, base_dir)
    out = [EventSpec(g.at_s, "send", send=SendSpec(f"{g.kind or 'g'}-{n + 1}", g.src, g.dst, g.text,
                                                   g.precedence, None))
           for n, g in enumerate(sorted(sends, key=lambda g: g.at_s))]
    fcfg = _get(data, "faults", "scenario", dict, {})
    cuts = fcfg.get("power_cuts_per_day", 0)
    if not isinstance(cuts, int | float) or isinstance(cuts, bool) or cuts < 0:
        raise ConfigError("faults.power_cuts_per_day: must be a number >= 0")
    cut_s = fcfg.get("power_cut_s", [60, 600])
    if (not isinstance(cut_s, list) or len(cut_s) != 2
            or not all(isinstance(v, int | float) and v >= 0 for v in cut_s) or cut_s[0] > cut_s[1]):
        raise ConfigError("faults.power_cut_s: must be [shortest, longest] in seconds")
    for at, action, target in scenario_gen.faults(_get(data, "fault", "scenario", list, []), float(cuts),
                                                  (float(cut_s[0]), float(cut_s[1])), boxes,
                                                  [(a, b) for a, b, _, _ in links], seed, end,
                                                  lambda v, w: parse_duration(v, w) * scale):
        if action.startswith("link"):
            out.append(EventSpec(at, action, link=tuple(target)))  # type: ignore[arg-type]
        else:
            out.append(EventSpec(at, action, box=target))
    return out


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


def fast_tmp() -> str | None:
    """/dev/shm when there is one: the stores stay real SQLite (WAL, synchronous=FULL), but an fsync on tmpfs
    costs nothing, and it was 75 % of a 56-box run on disk. A simulated power cut is a restart from the
    committed rows, so it does not depend on the fsync reaching a disk."""
    shm = "/dev/shm"
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else None


def run_scenario(sc: Scenario, workdir: Path | None = None, trace: Path | None = None) -> ScenarioResult:
    """Run a scenario on fresh stores (in `workdir`, or a temporary directory); `trace`: a JSON-lines file
    of every box's events and actions (nspgw/daemon/trace.py)."""
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="nspgw-scenario-", dir=fast_tmp()) as tmp:
            return run_scenario(sc, Path(tmp), trace)
    t_wall = time.perf_counter()
    tracer = Trace(trace) if trace is not None else None
    # Links of placed boxes were computed at parse time (sc.links), with the scenario's path-loss model.
    net = SimNet(list(sc.boxes), workdir, seed=sc.seed, preset=sc.preset, presence=sc.presence, trace=tracer)
    try:
        set_radio_roles(net, dict(sc.radio_roles))
        for a, b, loss, snr in sc.links:
            net.mesh.set_link(f"box{a}", f"box{b}", loss=loss, snr=snr)
        sent: dict[str, tuple[SendSpec, int, float]] = {}
        with net.internal_errors():
            for ev in sc.events:
                net.run_until(ev.at_s)
                _apply(net, ev, sent)
            net.run_until(sc.duration_s)
        return _result(sc, net, sent, time.perf_counter() - t_wall)
    finally:
        net.close()
        if tracer is not None:
            tracer.close()


def set_radio_roles(net: SimNet, roles: dict[int, str]) -> None:
    """Give the boxes in `roles` their device role instead of their profile's, as a re-provisioned radio
    holds it (sim/box_radio.py), the way a virtual radio's admin write reaches its mesh node
    (sim/device.py `_apply_to_mesh`)."""
    for addr, role in roles.items():
        radio = box_radio(net.boxes[addr].spec.role, role)
        node = net.mesh.node(net.boxes[addr].name)
        node.role, node.rebroadcast_mode, node.hop_limit = radio.role, radio.rebroadcast_mode, radio.hop_limit


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


def _result(sc: Scenario, net: SimNet, sent: dict[str, tuple[SendSpec, int, float]],
            wall_s: float) -> ScenarioResult:
    messages: list[MessageResult]
    messages, figs = figures(net, sent, wall_s)
    by_id = {m.id: m for m in messages}
    checks = []
    for ex in sc.expects:
        m = by_id[ex.message]
        ok = m.state == ex.state and (ex.within_s is None or (m.done_at_s is not None and m.done_at_s <= ex.within_s))
        detail = f"{m.state}" + (f" na {m.done_at_s:.0f} s" if m.done_at_s is not None else "")
        checks.append((ex.message, ok, detail))
    airtime = {name: round(float(st["airtime_s"]), 1) for name, st in net.mesh.stats().items()}
    notices = [(a, n.kind.value, notice_text(n)) for a, b in net.boxes.items() for n in b.notices]
    return ScenarioResult(sc.name, sc.duration_s, messages, checks, airtime, notices, figs)
