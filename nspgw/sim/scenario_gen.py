"""Generated parts of a scenario: a network from a few counts, traffic from rates or a corpus, and faults.

```toml
[network]                  # instead of [[box]]/[[link]]: 1 GCT, CPs 10.., NSPs 100*k+j under CP k
gct = 1
cps = 5
nsps_per_cp = 10
cp_links = "star"          # star: every CP hears the GCT; chain: GCT - CP1 - CP2 - ...
loss = 0.1                 # frame loss on every generated link (cp_loss / nsp_loss override per tier)
placement = "links"        # or "geo": a generated map (sim/propagation.py place_municipality) instead of
cp_distance_m = 3000       #   star/chain links; geo only: CPs at this distance (± 20 %) round the GCT,
nsp_distance_m = 1500      #   NSPs within this of their CP; links from distance and preset, loss on top

[[traffic]]                # Poisson arrivals, seeded: per_hour messages from EVERY box of from_role
from_role = "nsp"
kind = "sitrep"
precedence = "routine"
per_hour = 2
to = "parent"              # parent | gct | all | child | cp | nsp | a box address
size = 80                  # text length in characters (default 60)
[[traffic]]
corpus = "../../tests/data/messages-sample.jsonl"   # relative to the scenario file; spread over the run
repeat = 1                 # how often the corpus is sent

[[fault]]                  # power loss: only what the box's store holds survives
power_off = 10
at = "1h"
for = "20m"
[[fault]]
partition = [10]           # every link between these boxes and the rest goes down
at = "1h"
for = "6h"
[[fault]]
link = [1, 10]
at = "2h"
for = "3h"
[[fault]]
ip = 1                     # IP (MQTT) is available on box 1 during this window (also: [1, 10], "all")
at = "0s"
for = "2h"
flap_every = "5m"          # optional: inside the window IP drops for flap_down once every flap_every
flap_down = "1m"

[faults]
power_cuts_per_day = 20    # per box, random times (seeded), each lasting power_cut_s (default 1..10 min)
```
Traffic starts at `traffic_from` (default 0) and stops `drain` before the end (both in [scenario]), so the
run can finish what was accepted; what is still undelivered at the end counts as lost.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nspgw.crypto.enrol import BoxSpec
from nspgw.crypto.roster import Role
from nspgw.errors import ConfigError
from nspgw.ids import BROADCAST_ADDR, BoxAddr
from nspgw.wire.frames import Precedence

_FILLER = ("situatie rustig, aggregaat draait, water voldoende, verzoek om dekens en brood, "
           "telefoonnet nog steeds uit, bezoekers melden geen gewonden, volgende melding over een uur. ")


@dataclass(frozen=True)
class GenSend:
    at_s: float
    src: int
    dst: int
    text: str
    precedence: Precedence
    kind: str


def network_boxes(net: dict[str, Any]) -> tuple[list[BoxSpec], list[tuple[int, int, float, float]]]:
    def count(key: str, default: int, hi: int) -> int:
        v = net.get(key, default)
        if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= hi:
            raise ConfigError(f"network.{key}: must be a whole number 0..{hi}")
        return v

    def loss(key: str) -> float:
        v = net.get(key, net.get("loss", 0.0))
        if not isinstance(v, int | float) or isinstance(v, bool) or not 0.0 <= v <= 1.0:
            raise ConfigError(f"network.{key}: must be between 0 and 1")
        return float(v)

    if count("gct", 1, 1) != 1:
        raise ConfigError("network.gct: a network has exactly one GCT")
    cps, per_cp = count("cps", 2, 40), count("nsps_per_cp", 2, 99)
    topo = net.get("cp_links", "star")
    if topo not in ("star", "chain"):
        raise ConfigError("network.cp_links: must be star or chain")
    cp_loss, nsp_loss = loss("cp_loss"), loss("nsp_loss")
    boxes = [BoxSpec(BoxAddr(1), "GCT", Role.GCT, 0x2000_0001, None)]
    links: list[tuple[int, int, float, float]] = []
    prev = 1
    for k in range(1, cps + 1):
        cp = 9 + k
        boxes.append(BoxSpec(BoxAddr(cp), f"CP {k}", Role.CP, 0x2000_0000 + cp, None))
        links.append((1 if topo == "star" else prev, cp, cp_loss, 8.0))
        prev = cp
        for j in range(1, per_cp + 1):
            nsp = 100 * k + j
            boxes.append(BoxSpec(BoxAddr(nsp), f"NSP {k}.{j}", Role.NSP, 0x2000_0000 + nsp, BoxAddr(cp)))
            links.append((cp, nsp, nsp_loss, 6.0))
    return boxes, links


def _targets(boxes: tuple[BoxSpec, ...]) -> dict[str, list[BoxSpec]]:
    by: dict[str, list[BoxSpec]] = {r.value: [] for r in Role}
    for b in boxes:
        by[b.role.value].append(b)
    return by


def _pick_dst(to: object, src: BoxSpec, boxes: tuple[BoxSpec, ...], rng: random.Random, where: str) -> int | None:
    """The destination for one message, or None when this sender has none (a CP without NSPs)."""
    by = _targets(boxes)
    if isinstance(to, int) and not isinstance(to, bool):
        if to not in {b.addr for b in boxes}:
            raise ConfigError(f"{where}.to: unknown box {to}")
        return to if to != src.addr else None
    if to == "all":
        return BROADCAST_ADDR
    if to == "parent":
        if src.parent is not None:
            return int(src.parent)
        return int(by["gct"][0].addr) if by["gct"] and src.role != Role.GCT else None
    if to == "child":
        kids = [b for b in boxes if b.parent == src.addr] or (by["cp"] if src.role == Role.GCT else [])
        return int(rng.choice(kids).addr) if kids else None
    if to in ("gct", "cp", "nsp"):
        pool = [b for b in by[str(to)] if b.addr != src.addr]
        if to == "nsp" and src.role == Role.CP:
            pool = [b for b in pool if b.parent == src.addr] or pool
        if to == "cp" and src.parent is not None:
            return int(src.parent)
        return int(rng.choice(pool).addr) if pool else None
    raise ConfigError(f"{where}.to: must be parent, gct, all, child, cp, nsp or a box address")


def _precedence(name: object, where: str) -> Precedence:
    if not isinstance(name, str) or name.upper() not in Precedence.__members__:
        raise ConfigError(f"{where}: {name!r} is not flash/immediate/priority/routine")
    return Precedence[name.upper()]


def traffic(specs: list[Any], boxes: tuple[BoxSpec, ...], seed: int, start_s: float, end_s: float,
            base_dir: Path) -> list[GenSend]:
    out: list[GenSend] = []
    for i, t in enumerate(specs):
        w = f"traffic[{i}]"
        if not isinstance(t, dict):
            raise ConfigError(f"{w}: must be a table")
        rng = random.Random(f"{seed}/traffic/{i}")
        if "corpus" in t:
            out += _corpus(t, w, boxes, rng, start_s, end_s, base_dir)
            continue
        role = t.get("from_role")
        if role not in {r.value for r in Role}:
            raise ConfigError(f"{w}.from_role: must be gct, cp or nsp")
        rate = t.get("per_hour")
        if not isinstance(rate, int | float) or isinstance(rate, bool) or rate < 0:
            raise ConfigError(f"{w}.per_hour: must be a number >= 0")
        prec = _precedence(t.get("precedence", "routine"), f"{w}.precedence")
        kind = str(t.get("kind", "chat"))
        size = t.get("size", 60)
        if not isinstance(size, int) or not 1 <= size <= 4000:
            raise ConfigError(f"{w}.size: must be 1..4000 characters")
        to = t.get("to", "parent")
        for src in (b for b in boxes if b.role.value == role):
            at = start_s
            n = 0
            while rate > 0:
                at += rng.expovariate(rate / 3600.0)
                if at >= end_s:
                    break
                dst = _pick_dst(to, src, boxes, rng, w)
                if dst is None:
                    break
                n += 1
                head = f"{kind} {src.name} #{n}: "
                text = (head + _FILLER * (size // len(_FILLER) + 1))[:max(size, len(head))]
                out.append(GenSend(at, int(src.addr), dst, text, prec, kind))
    return out


def _corpus(t: dict[str, Any], w: str, boxes: tuple[BoxSpec, ...], rng: random.Random, start_s: float,
            end_s: float, base_dir: Path) -> list[GenSend]:
    path = base_dir / str(t["corpus"])
    try:
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except OSError as exc:
        raise ConfigError(f"{w}.corpus: cannot read {path}: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{w}.corpus: {path} is not JSON lines: {exc}") from None
    repeat = t.get("repeat", 1)
    if not isinstance(repeat, int) or not 1 <= repeat <= 1000:
        raise ConfigError(f"{w}.repeat: must be 1..1000")
    rows = rows * repeat
    by = _targets(boxes)
    out = []
    span = max(end_s - start_s, 0.0)
    for n, r in enumerate(rows):
        wr = f"{w}.corpus line {n % max(len(rows) // repeat, 1) + 1}"
        if not isinstance(r, dict) or not isinstance(r.get("text"), str) or not r["text"]:
            raise ConfigError(f"{wr}: needs a text")
        senders = by.get(str(r.get("from_role")), [])
        if not senders:
            continue  # no box of that role in this network
        src = rng.choice(senders)
        to_role = r.get("to_role", "gct")
        to = "parent" if to_role == "cp" and src.role == Role.NSP else "child" if to_role == "nsp" else to_role
        dst = _pick_dst(to, src, boxes, rng, wr)
        if dst is None:
            continue
        at = start_s + span * (n + rng.random()) / len(rows)
        out.append(GenSend(at, int(src.addr), dst, r["text"], _precedence(r.get("priority", "routine"),
                                                                         f"{wr}.priority"), str(r.get("kind", ""))))
    return out


def faults(specs: list[Any], power_cuts_per_day: float, cut_s: tuple[float, float], boxes: tuple[BoxSpec, ...],
           links: list[tuple[int, int]], seed: int, duration_s: float,
           parse_duration: Any) -> list[tuple[float, str, Any]]:
    """(time, action, target) for the scenario's event list: box_down/box_up, link_down/link_up, ip_up/ip_down."""
    addrs = {b.addr for b in boxes}
    out: list[tuple[float, str, Any]] = []
    for i, f in enumerate(specs):
        w = f"fault[{i}]"
        if not isinstance(f, dict):
            raise ConfigError(f"{w}: must be a table")
        at = parse_duration(f.get("at", 0), f"{w}.at")
        end = at + parse_duration(f["for"], f"{w}.for") if "for" in f else None

        def box(v: object, where: str) -> int:
            if not isinstance(v, int) or isinstance(v, bool) or v not in addrs:
                raise ConfigError(f"{where}: unknown box {v!r}")
            return v

        if "power_off" in f:
            b = box(f["power_off"], f"{w}.power_off")
            out += [(at, "box_down", b)] + ([(end, "box_up", b)] if end is not None else [])
        elif "ip" in f:
            out += _ip_windows(f, w, at, end, sorted(addrs), box, parse_duration, duration_s)
        elif "partition" in f or "link" in f:
            key = "partition" if "partition" in f else "link"
            group = f[key]
            if not isinstance(group, list) or not group or (key == "link" and len(group) != 2):
                raise ConfigError(f"{w}.{key}: must be " + ("[a, b]" if key == "link" else "a list of boxes"))
            members = {box(v, f"{w}.{key}") for v in group}
            if key == "link":
                cut = [(group[0], group[1])]
            else:
                cut = [(a, b) for a, b in links if (a in members) != (b in members)]
            for pair in cut:
                out.append((at, "link_down", pair))
                if end is not None:
                    out.append((end, "link_up", pair))
        else:
            raise ConfigError(f"{w}: needs one of power_off, partition, link, ip")
    if power_cuts_per_day > 0:
        for b in boxes:
            rng = random.Random(f"{seed}/power/{b.addr}")
            t = 0.0
            while True:
                t += rng.expovariate(power_cuts_per_day / 86400.0)
                if t >= duration_s:
                    break
                d = rng.uniform(*cut_s)
                out += [(t, "box_down", int(b.addr)), (min(t + d, duration_s), "box_up", int(b.addr))]
                t += d
    return out


def _ip_windows(f: dict[str, Any], w: str, at: float, end: float | None, addrs: list[int], box: Any,
                parse_duration: Any, duration_s: float) -> list[tuple[float, str, Any]]:
    """An IP window for one box, a list of boxes or "all"; with `flap_every` and `flap_down`, IP drops for
    `flap_down` once every `flap_every` inside the window (a 4G link that comes and goes)."""
    v = f["ip"]
    if v == "all":
        targets = addrs
    elif isinstance(v, list) and v:
        targets = [box(x, f"{w}.ip") for x in v]
    else:
        targets = [box(v, f"{w}.ip")]
    stop = end if end is not None else duration_s
    times: list[tuple[float, str]] = [(at, "ip_up")]
    if "flap_every" in f or "flap_down" in f:
        every = parse_duration(f.get("flap_every"), f"{w}.flap_every")
        down = parse_duration(f.get("flap_down"), f"{w}.flap_down")
        if not 0 < down < every:
            raise ConfigError(f"{w}: flap_down must be > 0 and shorter than flap_every")
        t = at + every - down
        while t + down < stop:
            times += [(t, "ip_down"), (t + down, "ip_up")]
            t += every
    if end is not None:
        times.append((end, "ip_down"))
    return [(t, action, b) for t, action in times for b in targets]
