"""Physical-layer and firmware-timing constants of the simulated mesh: path loss, SNR, capture, CSMA delays.

Kept apart from the event loop (`mesh.py`) so the numbers and their sources sit in one short page
(docs/simulation-model.md explains each one).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from nspgw.core.airtime import DEMOD_FLOOR_SNR_DB, ModemPreset, slot_time_ms, time_on_air_ms

# -- propagation (log-distance path loss, used only for nodes placed by position) ------------------------
TX_POWER_DBM = 27.0
"""EU_868 sub-band 869.4-869.65 MHz allows 500 mW ERP (ETSI EN 300 220-2); Meshtastic uses 27 dBm there."""
FREQ_MHZ = 869.525  # Meshtastic EU_868 default slot frequency
PATH_LOSS_EXPONENT = 3.5  # suburban / built-up terrain at ground level (2 = free space)
REF_DISTANCE_M = 1.0
NOISE_FIGURE_DB = 6.0  # SX1262 receiver, typical
SHADOW_MARGIN_DB = 2.0  # SNR margin above the floor at which half the frames are lost (see packet_error_rate)


def free_space_loss_db(distance_m: float, freq_mhz: float = FREQ_MHZ) -> float:
    """Friis free-space loss: 20 log10(4 pi d f / c)."""
    return 20.0 * math.log10(4.0 * math.pi * distance_m * freq_mhz * 1e6 / 299_792_458.0)


def path_loss_db(distance_m: float, exponent: float = PATH_LOSS_EXPONENT) -> float:
    """Log-distance model: PL(d) = PL_fs(d0) + 10 n log10(d / d0), d0 = 1 m."""
    d = max(distance_m, REF_DISTANCE_M)
    return free_space_loss_db(REF_DISTANCE_M) + 10.0 * exponent * math.log10(d / REF_DISTANCE_M)


def noise_floor_dbm(bandwidth_khz: float) -> float:
    """Thermal noise -174 dBm/Hz + 10 log10(BW) + receiver noise figure."""
    return -174.0 + 10.0 * math.log10(bandwidth_khz * 1000.0) + NOISE_FIGURE_DB


def demod_floor_snr(p: ModemPreset) -> float:
    return DEMOD_FLOOR_SNR_DB[p.spreading_factor]


def packet_error_rate(snr_db: float, p: ModemPreset) -> float:
    """Loss probability of a frame by its SNR margin above the demodulation floor (logistic, 1 at the floor).

    A smooth stand-in for slow fading: at the floor nothing gets through, `SHADOW_MARGIN_DB` above it half
    does, 6 dB above it less than 0.1 % is lost.
    """
    margin = snr_db - demod_floor_snr(p)
    if margin <= 0:
        return 1.0
    return 1.0 / (1.0 + math.exp(1.8 * (margin - SHADOW_MARGIN_DB)))


@dataclass(slots=True)
class RadioLink:
    """One symmetric radio link between two nodes (explicit from a topology, or computed from positions)."""

    loss: float
    snr: float
    rssi: int
    up: bool = True
    explicit: bool = True


def link_from_distance(distance_m: float, p: ModemPreset) -> RadioLink | None:
    """The link between two placed nodes, or None when the signal is below the demodulation floor."""
    rssi = TX_POWER_DBM - path_loss_db(distance_m)
    snr = rssi - noise_floor_dbm(p.bandwidth_khz)
    if snr < demod_floor_snr(p):
        return None
    return RadioLink(loss=packet_error_rate(snr, p), snr=round(snr, 2), rssi=round(rssi), explicit=False)


# -- collisions ------------------------------------------------------------------------------------------
CAPTURE_THRESHOLD_DB = 6.0
"""Co-channel rejection of LoRa at equal SF (SX1276/SX126x datasheets: about 6 dB; Bor, Roedig, Voigt, Alonso,
"Do LoRa Low-Power Wide-Area Networks Scale?", MSWiM 2016, measured capture at a 6 dB power difference)."""
CRITICAL_PREAMBLE_SYMBOLS = 5
"""Bor et al. 2016 (LoRaSim): a receiver locks on after the first preamble symbols; an overlap confined to all
but the last 5 preamble symbols does not destroy the frame."""


def lost_to(snr: float, start: float, crit_from: float, other_snr: float, overlap_end: float) -> bool:
    """Whether a frame is lost to one overlapping frame (LoRaSim power + timing rule):

    - power: it survives when it is >= 6 dB stronger than the other frame, whatever the timing;
    - timing: otherwise it survives only when the overlap ends before its critical section, which starts
      `crit_from` seconds after its own start (the last 5 preamble symbols, header and payload).
    Both must go wrong for the frame to be lost. `start` is the frame's start, `overlap_end` the end of the
    overlap (the earlier of the two ends).
    """
    if snr - other_snr >= CAPTURE_THRESHOLD_DB:
        return False
    return overlap_end > start + crit_from


# -- firmware timing (Meshtastic RadioInterface.cpp / ReliableRouter.h, 2.x) -------------------------------
CW_MIN = 3  # RadioInterface.h CWmin
CW_MAX = 8  # RadioInterface.h CWmax
SNR_MIN = -20  # getCWsize: the SNR range mapped onto the contention window
SNR_MAX = 10
PROCESSING_TIME_MS = 4500  # RadioInterface.h PROCESSING_TIME_MSEC, added to the retransmission timeout
NUM_RELIABLE_RETX = 3  # NextHopRouter.h: transmissions of a want_ack packet in total (N - 1 retries)
UTIL_WINDOW_S = 60.0  # AirTime::channelUtilizationPercent: 6 periods of 10 s
TX_QUEUE_LEN = 16  # MAX_TX_QUEUE


def cw_size(snr: float) -> int:
    """getCWsize: Arduino map(snr, SNR_MIN, SNR_MAX, CWmin, CWmax), clamped (weak SNR -> small window)."""
    size = int((snr - SNR_MIN) * (CW_MAX - CW_MIN) / (SNR_MAX - SNR_MIN) + CW_MIN)
    return min(max(size, CW_MIN), CW_MAX)


@dataclass(frozen=True, slots=True)
class PresetTiming:
    """Per-preset durations in seconds the router model needs, computed once per mesh."""

    slot_s: float
    preamble_s: float
    critical_s: float  # from a frame's start to its critical section (lost_to)

    @classmethod
    def for_preset(cls, p: ModemPreset) -> PresetTiming:
        from nspgw.core.airtime import PREAMBLE_SYMBOLS

        sym = p.symbol_time_ms / 1000.0
        return cls(slot_s=slot_time_ms(p) / 1000.0, preamble_s=PREAMBLE_SYMBOLS * sym,
                   critical_s=(PREAMBLE_SYMBOLS - CRITICAL_PREAMBLE_SYMBOLS) * sym)


def cw_for_utilisation(util_percent: float) -> int:
    """getTxDelayMsec / getRetransmissionMsec: CW = map(channel utilisation 0..100 %, CWmin, CWmax)."""
    return min(max(int(util_percent * (CW_MAX - CW_MIN) / 100.0) + CW_MIN, CW_MIN), CW_MAX)


def retransmission_timeout_s(frame_len: int, p: ModemPreset, cw: int = CW_MIN) -> float:
    """getRetransmissionMsec: time to send, be relayed and hear an ack; CW from the channel utilisation.

    2 * airtime + (2^CW + 2 * CWmax + 2^((CWmax + CWmin) / 2)) * slot + PROCESSING_TIME_MSEC.
    """
    airtime = time_on_air_ms(frame_len, p)
    slots = (1 << cw) + 2 * CW_MAX + (1 << ((CW_MAX + CW_MIN) // 2))
    return (2 * airtime + slots * slot_time_ms(p) + PROCESSING_TIME_MS) / 1000.0
