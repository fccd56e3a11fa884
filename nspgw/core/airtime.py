"""LoRa time on air for Meshtastic modem presets, Meshtastic frame sizes, and a rolling duty-cycle ledger.

Pure and sans-IO: the core's airtime budget, the benches and the simulated mesh all count bytes and
milliseconds on air through this one module, so they agree.

Sources:
- Semtech AN1200.13 "LoRa Modem Designer's Guide", section 4 (time on air).
- Meshtastic firmware 2.7 `RadioInterface.cpp` (`modemPresetToParams`, preamble length 16, explicit
  header, CRC on, low-data-rate optimisation when a symbol lasts more than 16 ms) and `RadioInterface.h`
  (`PacketHeader`: to, from, id, flags, channel hash, next hop, relay node = 16 bytes).
- ETSI EN 300 220-2 sub-band 869.40-869.65 MHz (10 % duty cycle), which Meshtastic's EU_868 uses
  (`regions[]` entry EU_868: dutyCycle 10).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from nspgw.errors import ConfigError


@dataclass(frozen=True, slots=True)
class ModemPreset:
    """One Meshtastic modem preset: LoRa bandwidth, spreading factor and coding rate 4/`coding_rate`."""

    name: str
    bandwidth_khz: float
    spreading_factor: int
    coding_rate: int  # denominator: 5 means 4/5
    deprecated: bool = False

    @property
    def symbol_time_ms(self) -> float:
        # AN1200.13: Tsym = 2^SF / BW.
        return (1 << self.spreading_factor) / self.bandwidth_khz

    @property
    def low_data_rate_optimize(self) -> bool:
        # Firmware (RadioLib) switches LDRO on when a symbol lasts longer than 16 ms (SX127x/SX126x datasheets).
        return self.symbol_time_ms > 16.0


# Meshtastic firmware 2.7 RadioInterface.cpp modemPresetToParams (bw kHz, sf, cr denominator).
PRESETS: dict[str, ModemPreset] = {
    p.name: p
    for p in (
        ModemPreset("SHORT_TURBO", 500.0, 7, 5),
        ModemPreset("SHORT_FAST", 250.0, 7, 5),
        ModemPreset("SHORT_SLOW", 250.0, 8, 5),
        ModemPreset("MEDIUM_FAST", 250.0, 9, 5),
        ModemPreset("MEDIUM_SLOW", 250.0, 10, 5),
        ModemPreset("LONG_FAST", 250.0, 11, 5),
        ModemPreset("LONG_MODERATE", 125.0, 11, 8),
        ModemPreset("LONG_SLOW", 125.0, 12, 8),
        # Removed from the apps, still in the protobuf enum and the firmware table.
        ModemPreset("VERY_LONG_SLOW", 62.5, 12, 8, deprecated=True),
    )
}

PREAMBLE_SYMBOLS = 16
"""Meshtastic's LoRa preamble length (firmware `preambleLength = 16`)."""

MESHTASTIC_HEADER_LEN = 16
"""Cleartext `PacketHeader` in front of the encrypted `Data` protobuf on air."""

MAX_LORA_PAYLOAD_LEN = 255
"""Largest LoRa PHY payload (SX126x/SX127x FIFO); firmware refuses a packet whose header + Data exceed it."""

DATA_PAYLOAD_LEN = 233
"""Meshtastic `Constants.DATA_PAYLOAD_LEN`: most application bytes in one packet."""

# Demodulation floor SNR per spreading factor (Semtech SX1276/SX1262 datasheets, "LoRa demodulator SNR").
DEMOD_FLOOR_SNR_DB: dict[int, float] = {7: -7.5, 8: -10.0, 9: -12.5, 10: -15.0, 11: -17.5, 12: -20.0}

# Regional duty cycle in percent (Meshtastic firmware `regions[]`); regions not listed have none (100 %).
REGION_DUTY_CYCLE_PERCENT: dict[str, float] = {"EU_433": 10.0, "EU_868": 10.0}


def preset(name: str | ModemPreset) -> ModemPreset:
    """Look a preset up by its Meshtastic name (e.g. "LONG_FAST")."""
    if isinstance(name, ModemPreset):
        return name
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError(f"unknown modem preset {name!r} (known: {', '.join(PRESETS)})") from None


def time_on_air_ms(payload_len: int, preset_name: str | ModemPreset) -> float:
    """Time on air in ms of one LoRa frame carrying `payload_len` bytes (PHY payload), per AN1200.13.

    Tpreamble = (Npreamble + 4.25) * Tsym
    Npayload  = 8 + max(ceil((8*PL - 4*SF + 28 + 16*CRC - 20*IH) / (4*(SF - 2*DE))) * CR, 0)
    with CRC = 1 (on), IH = 0 (explicit header), DE = 1 when LDRO is on, CR = 5..8 (4/5..4/8).
    """
    if payload_len < 0 or payload_len > 255:
        raise ValueError(f"LoRa payload length must be 0..255 bytes, not {payload_len}")
    p = preset(preset_name)
    sf = p.spreading_factor
    de = 1 if p.low_data_rate_optimize else 0
    t_sym = p.symbol_time_ms
    t_preamble = (PREAMBLE_SYMBOLS + 4.25) * t_sym
    numerator = 8 * payload_len - 4 * sf + 28 + 16 * 1 - 20 * 0
    n_payload = 8 + max(math.ceil(numerator / (4 * (sf - 2 * de))) * p.coding_rate, 0)
    return t_preamble + n_payload * t_sym


def slot_time_ms(preset_name: str | ModemPreset) -> float:
    """CSMA slot as firmware computes it: CAD (2 symbols + 0.5 margin) + propagation 0.2 + 0.4 + 7 ms turnaround."""
    return 2.5 * preset(preset_name).symbol_time_ms + 0.2 + 0.4 + 7.0


def _varint_len(value: int) -> int:
    if value < 0:
        return 10  # negative int32/enums take ten bytes in protobuf
    n = 1
    while value >= 0x80:
        value >>= 7
        n += 1
    return n


def data_protobuf_len(data_payload_len: int, portnum: int, *, want_response: bool = False, dest: int = 0,
                      source: int = 0, request_id: int = 0, reply_id: int = 0, emoji: int = 0,
                      bitfield: int | None = 0) -> int:
    """Serialized size of Meshtastic `Data{...}` (proto3: fields at their default are not written).

    Field numbers from mesh.proto: portnum=1 (varint), payload=2 (bytes), want_response=3 (bool),
    dest=4, source=5, request_id=6, reply_id=7, emoji=8 (fixed32), bitfield=9 (optional uint32: written
    whenever present, even 0). Each tag takes one byte here (field numbers < 16).
    """
    size = 0
    if portnum:
        size += 1 + _varint_len(portnum)
    if data_payload_len:
        size += 1 + _varint_len(data_payload_len) + data_payload_len
    if want_response:
        size += 2
    for value in (dest, source, request_id, reply_id, emoji):
        if value:
            size += 5
    if bitfield is not None:
        size += 1 + _varint_len(bitfield)
    return size


def meshtastic_frame_len(data_payload_len: int, portnum: int, *, want_response: bool = False, dest: int = 0,
                         source: int = 0, request_id: int = 0, reply_id: int = 0, emoji: int = 0,
                         bitfield: int | None = 0) -> int:
    """Bytes on air (LoRa PHY payload) of a Meshtastic packet: 16-byte header + encrypted `Data` protobuf.

    Channel encryption is AES-CTR, so the ciphertext is as long as the protobuf. `bitfield` defaults to
    present (0): firmware 2.5+ sets `has_bitfield` on every packet it originates (ok-to-MQTT bit).
    """
    return MESHTASTIC_HEADER_LEN + data_protobuf_len(
        data_payload_len, portnum, want_response=want_response, dest=dest, source=source,
        request_id=request_id, reply_id=reply_id, emoji=emoji, bitfield=bitfield)


class DutyCycleLedger:
    """Airtime spent in a rolling window (default one hour), in one-second buckets.

    Memory is bounded by the window in seconds (at most 3600 buckets), whatever the frame rate. A frame is
    booked in the bucket of its start second and leaves the window one whole window later, so the ledger
    errs at most one second on the safe side (it forgets airtime up to 1 s late, never early).
    """

    __slots__ = ("_buckets", "_used_ms", "limit_fraction", "window_s")

    def __init__(self, window_s: float = 3600.0, limit_fraction: float = 0.10) -> None:
        if window_s <= 0 or not 0 < limit_fraction <= 1:
            raise ValueError("window_s must be > 0 and limit_fraction in (0, 1]")
        self.window_s = float(window_s)
        self.limit_fraction = float(limit_fraction)
        self._buckets: deque[list[float]] = deque()  # [bucket second, airtime ms], oldest first
        self._used_ms = 0.0

    @classmethod
    def for_region(cls, region: str, window_s: float = 3600.0) -> DutyCycleLedger:
        return cls(window_s, REGION_DUTY_CYCLE_PERCENT.get(region, 100.0) / 100.0)

    def copy(self) -> DutyCycleLedger:
        """An independent ledger with the same window, limit and bookings (to play sending forward on)."""
        twin = DutyCycleLedger(self.window_s, self.limit_fraction)
        twin._buckets = deque([second, ms] for second, ms in self._buckets)
        twin._used_ms = self._used_ms
        return twin

    @property
    def limit_ms(self) -> float:
        return self.window_s * 1000.0 * self.limit_fraction

    def _prune(self, now: float) -> None:
        horizon = now - self.window_s
        buckets = self._buckets
        while buckets and buckets[0][0] + 1.0 <= horizon:
            self._used_ms -= buckets.popleft()[1]
        if not buckets:
            self._used_ms = 0.0  # no float drift once everything has aged out

    def record(self, now: float, airtime_ms: float) -> None:
        """Book a transmission that starts at `now` (seconds on the caller's monotonic clock)."""
        if airtime_ms < 0:
            raise ValueError("airtime_ms must be >= 0")
        self._prune(now)
        second = math.floor(now)
        if self._buckets and self._buckets[-1][0] >= second:
            self._buckets[-1][1] += airtime_ms  # same second (or a caller clock that stepped back): book it here
        else:
            self._buckets.append([float(second), float(airtime_ms)])
        self._used_ms += airtime_ms

    def used_ms(self, now: float) -> float:
        self._prune(now)
        return max(self._used_ms, 0.0)

    def available_ms(self, now: float) -> float:
        return max(self.limit_ms - self.used_ms(now), 0.0)

    def utilization(self, now: float) -> float:
        """Fraction of the window spent on air (firmware's `utilizationTXPercent` / 100)."""
        return self.used_ms(now) / (self.window_s * 1000.0)

    def can_send(self, now: float, airtime_ms: float, reserve_ms: float = 0.0) -> bool:
        """True when `airtime_ms` more fits the limit while keeping `reserve_ms` unspent."""
        return self.used_ms(now) + airtime_ms + reserve_ms <= self.limit_ms + 1e-9

    def next_time_available(self, now: float, airtime_ms: float, reserve_ms: float = 0.0) -> float:
        """Earliest time >= now at which `can_send(t, airtime_ms, reserve_ms)` holds (inf if it never can)."""
        if airtime_ms + reserve_ms > self.limit_ms + 1e-9:
            return math.inf
        used = self.used_ms(now)
        excess = used + airtime_ms + reserve_ms - self.limit_ms
        if excess <= 1e-9:
            return now
        for second, ms in self._buckets:
            excess -= ms
            if excess <= 1e-9:
                return max(now, second + 1.0 + self.window_s)
        return math.inf  # unreachable: the whole window ageing out always frees enough
