"""Geographic topology: links between placed boxes from a path-loss model and the preset's SNR limit, and a
generated municipality (GCT central, CPs spread around it, NSPs around their CP).

Whether two boxes hear each other, and at what SNR, follows from their distance and the modem preset:

    RSSI  = TX_POWER_DBM - PL(d)                                  (0 dBi antennas, no cable loss)
    noise = -174 dBm/Hz + 10 log10(BW) + NF                       (mesh_radio.noise_floor_dbm)
    SNR   = RSSI - noise; no link when SNR < the SX1262 demodulation limit of the preset's SF
    loss  = mesh_radio.packet_error_rate(SNR)                     (margin above the limit)

Two path-loss models (docs/simulation-model.md, "Geographic topology", gives the sources):

* ``log-distance`` (default): PL(d) = PL_fs(1 m) + 10 n log10(d / 1 m), n = 3.5 — the upper end of
  Rappaport's "urban area cellular radio" range (2.7-3.5, Wireless Communications, 2nd ed., Table 4.2) for
  antennas a few metres above ground among buildings; the reference loss is Friis free space at d0 = 1 m
  (31.2 dB at 869.525 MHz). The same function places nodes in `nspgw sim mesh` (mesh_radio.path_loss_db).
* ``hata-suburban``: Okumura-Hata (Hata, IEEE Trans. Veh. Technol. VT-29(3), 1980) small/medium-city
  correction and the suburban correction -2 (log10(f/28))^2 - 5.4, with the base (higher) and mobile
  (lower) antenna heights of the scenario. Hata's validity: 150-1500 MHz, base 30-200 m, mobile 1-10 m,
  1-20 km; shorter distances are taken at no less than free-space loss.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

from nspgw.core.airtime import ModemPreset
from nspgw.core.airtime import preset as lookup_preset
from nspgw.crypto.enrol import BoxSpec
from nspgw.crypto.roster import Role
from nspgw.errors import ConfigError
from nspgw.sim import mesh_radio as radio

MODELS = ("log-distance", "hata-suburban")


@dataclass(frozen=True)
class PathLossModel:
    name: str = "log-distance"
    exponent: float = radio.PATH_LOSS_EXPONENT  # log-distance n
    base_height_m: float = 30.0  # Hata h_b: the higher antenna of a pair (lowest height of Hata's range)
    mobile_height_m: float = 1.5  # Hata h_m: the lower antenna (Hata's reference mobile height)

    def loss_db(self, distance_m: float) -> float:
        if self.name == "log-distance":
            return radio.path_loss_db(distance_m, self.exponent)
        return max(hata_suburban_db(distance_m, self.base_height_m, self.mobile_height_m),
                   radio.free_space_loss_db(max(distance_m, radio.REF_DISTANCE_M)))


def hata_suburban_db(distance_m: float, hb_m: float, hm_m: float, freq_mhz: float = radio.FREQ_MHZ) -> float:
    """Okumura-Hata median path loss, suburban area (Hata 1980, eqs. for small/medium cities + suburban)."""
    lf, lhb = math.log10(freq_mhz), math.log10(hb_m)
    a_hm = (1.1 * lf - 0.7) * hm_m - (1.56 * lf - 0.8)
    urban = 69.55 + 26.16 * lf - 13.82 * lhb - a_hm + (44.9 - 6.55 * lhb) * math.log10(max(distance_m, 1.0) / 1000.0)
    return urban - 2.0 * math.log10(freq_mhz / 28.0) ** 2 - 5.4


def link_at(distance_m: float, p: ModemPreset, model: PathLossModel) -> radio.RadioLink | None:
    """The link between two boxes `distance_m` apart, or None when it is below the preset's SNR limit."""
    rssi = radio.TX_POWER_DBM - model.loss_db(distance_m)
    snr = rssi - radio.noise_floor_dbm(p.bandwidth_khz)
    if snr < radio.demod_floor_snr(p):
        return None
    return radio.RadioLink(loss=radio.packet_error_rate(snr, p), snr=round(snr, 2), rssi=round(rssi), explicit=False)


def parse_model(table: object) -> PathLossModel:
    """The scenario's `[propagation]` table (absent: log-distance, n = 3.5)."""
    if table is None:
        return PathLossModel()
    if not isinstance(table, dict):
        raise ConfigError("propagation: must be a table")
    for key in table:
        if key not in ("model", "exponent", "base_height_m", "mobile_height_m"):
            raise ConfigError(f"propagation.{key}: unknown field (model, exponent, base_height_m, mobile_height_m)")
    name = table.get("model", "log-distance")
    if name not in MODELS:
        raise ConfigError(f"propagation.model: {name!r} is not one of {', '.join(MODELS)}")

    def num(key: str, default: float, lo: float, hi: float) -> float:
        v = table.get(key, default)
        if not isinstance(v, int | float) or isinstance(v, bool) or not lo <= v <= hi:
            raise ConfigError(f"propagation.{key}: must be a number {lo:g}..{hi:g}")
        return float(v)

    return PathLossModel(name, num("exponent", radio.PATH_LOSS_EXPONENT, 1.5, 6.0),
                         num("base_height_m", 30.0, 1.0, 300.0), num("mobile_height_m", 1.5, 0.5, 30.0))


def place_municipality(boxes: list[BoxSpec], net: dict[str, Any], seed: int) -> dict[int, tuple[float, float]]:
    """Positions in metres: the GCT at (0, 0), the CPs evenly round it at `cp_distance_m` (±20 %, seeded),
    each NSP uniformly within `nsp_distance_m` of its CP. Seeded: the same seed gives the same map."""
    def dist(key: str, default: float) -> float:
        v = net.get(key, default)
        if not isinstance(v, int | float) or isinstance(v, bool) or not 0 < v <= 100_000:
            raise ConfigError(f"network.{key}: must be a distance in metres, 0 < d <= 100000")
        return float(v)

    cp_d, nsp_d = dist("cp_distance_m", 3000.0), dist("nsp_distance_m", 1500.0)
    rng = random.Random(f"{seed}/placement")
    cps = [b for b in boxes if b.role == Role.CP]
    pos: dict[int, tuple[float, float]] = {}
    for b in boxes:
        if b.role == Role.GCT:
            pos[int(b.addr)] = (0.0, 0.0)
    for k, b in enumerate(cps):
        angle = 2 * math.pi * (k + rng.uniform(-0.15, 0.15)) / max(len(cps), 1)
        r = cp_d * rng.uniform(0.8, 1.2)
        pos[int(b.addr)] = (round(r * math.cos(angle), 1), round(r * math.sin(angle), 1))
    for b in boxes:
        if b.role == Role.NSP:
            cx, cy = pos.get(int(b.parent), (0.0, 0.0)) if b.parent is not None else (0.0, 0.0)
            angle, r = rng.uniform(0, 2 * math.pi), nsp_d * math.sqrt(rng.random())  # uniform over the disc
            pos[int(b.addr)] = (round(cx + r * math.cos(angle), 1), round(cy + r * math.sin(angle), 1))
    return pos


def geo_links(positions: dict[int, tuple[float, float]], preset: str, model: PathLossModel,
              skip: set[tuple[int, int]] | None = None) -> list[tuple[int, int, float, float]]:
    """(a, b, loss, snr) for every pair of placed boxes above the SNR limit, pairs in `skip` left out
    (a hand-written [[link]] wins over the computed one)."""
    p = lookup_preset(preset)
    out = []
    addrs = sorted(positions)
    for i, a in enumerate(addrs):
        for b in addrs[i + 1:]:
            if skip and ((a, b) in skip or (b, a) in skip):
                continue
            link = link_at(math.dist(positions[a], positions[b]), p, model)
            if link is not None:
                out.append((a, b, round(link.loss, 4), link.snr))
    return out
