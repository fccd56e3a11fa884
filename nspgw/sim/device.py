"""One virtual Meshtastic radio as its client sees it: the serial/TCP stream API, config, admin, node db.

The official library (meshtastic/stream_interface.py) frames every protobuf as `0x94 0xC3`, a 16-bit
big-endian length and a `ToRadio`/`FromRadio` message of at most 512 bytes. This module speaks that
protocol the way firmware's PhoneAPI/StreamAPI does (handshake order, queueStatus after each packet,
admin answers carrying `request_id` and `session_passkey`) and maps packets to and from `sim.mesh.Mesh`.

The device never touches a socket or a thread: the server calls it under the one mesh lock and gives
it a `write` callback per client connection.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import random
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from meshtastic.protobuf import (
    admin_pb2,
    channel_pb2,
    config_pb2,
    localonly_pb2,
    mesh_pb2,
    module_config_pb2,
    portnums_pb2,
)

from nspgw.errors import StoreError
from nspgw.sim.device_roles import set_device_config

log = logging.getLogger("nspgw.sim")

START1, START2 = 0x94, 0xC3
MAX_TO_FROM_RADIO_SIZE = 512  # stream_interface.MAX_TO_FROM_RADIO_SIZE, same limit in firmware StreamAPI
MESHTASTIC_HEADER_LEN = 16  # firmware MESHTASTIC_HEADER_LENGTH: the unencrypted packet header on air
MAX_LORA_PAYLOAD_LEN = 255  # firmware MAX_LORA_PAYLOAD_LEN (SX126x/SX127x FIFO)
NODELESS_WANT_CONFIG_ID = 69420  # meshtastic.NODELESS_WANT_CONFIG_ID: handshake without other nodes
BROADCAST = 0xFFFFFFFF
PKI_EXEMPT_PORTS = frozenset({3, 4, 5, 70})  # position, nodeinfo, routing, traceroute (Router::perhapsEncode)
PKI_OVERHEAD = 12  # mesh-pb-constants.h MESHTASTIC_PKC_OVERHEAD
MAX_RX_TOPHONE = 32  # firmware keeps this many packets for a client that is not connected, drops the oldest
FIRMWARE_VERSION = "2.7.11.sim"
DEVICE_STATE_VERSION = 24
STATE_VERSION = 1
ROUTING = mesh_pb2.Routing.Error
PORT = portnums_pb2.PortNum

# AdminMessage.ConfigType k is Config field k+1; ModuleConfigType k is ModuleConfig field k+1 (protobuf order).
CONFIG_BY_TYPE = {f.number - 1: f.name for f in config_pb2.Config.DESCRIPTOR.fields}
LOCAL_CONFIG_FIELDS = [f.name for f in localonly_pb2.LocalConfig.DESCRIPTOR.fields if f.name != "version"]
MODULE_FIELDS = [f.name for f in localonly_pb2.LocalModuleConfig.DESCRIPTOR.fields if f.name != "version"]


class FrameDecoder:
    """Splits a client byte stream into ToRadio frames, resynchronising like firmware's StreamAPI.

    Bytes outside a frame (the library's 32 wake-up bytes 0xC3, debug text) are skipped until the magic;
    a length header over 512 drops the header and scanning restarts after it.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self.skipped_bytes = 0
        self.oversized_headers = 0

    @property
    def pending(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        frames: list[bytes] = []
        buf = self._buf
        while buf:
            start = buf.find(START1)
            if start < 0:
                self.skipped_bytes += len(buf)
                buf.clear()
                break
            if start:
                self.skipped_bytes += start
                del buf[:start]
            if len(buf) < 2:
                break
            if buf[1] != START2:
                self.skipped_bytes += 1
                del buf[:1]
                continue
            if len(buf) < 4:
                break
            length = (buf[2] << 8) | buf[3]
            if length > MAX_TO_FROM_RADIO_SIZE:
                self.oversized_headers += 1
                log.warning("stream: length header %d > %d, resynchronising", length, MAX_TO_FROM_RADIO_SIZE)
                del buf[:4]
                continue
            if len(buf) < 4 + length:
                break
            frames.append(bytes(buf[4 : 4 + length]))
            del buf[: 4 + length]
        return frames

    def reset(self) -> None:
        if self._buf:
            log.warning("stream: client left with %d bytes of an unfinished frame", len(self._buf))
        self._buf.clear()


def encode_frame(message: Any) -> bytes:
    body = message.SerializeToString()
    return bytes([START1, START2, len(body) >> 8, len(body) & 0xFF]) + body


def encoded_frame_len(decoded: mesh_pb2.Data) -> int:
    """Bytes on air as firmware perhapsEncode counts them: it sets `has_bitfield` on every packet it
    originates (ok-to-MQTT bit) before checking `numbytes + MESHTASTIC_HEADER_LENGTH > MAX_LORA_PAYLOAD_LEN`.

    So DATA_PAYLOAD_LEN (233) only fits for port numbers below 128 without other optional fields; on a
    port >= 128 such as nspgw's 311 the largest payload that goes on air is 231 bytes.
    """
    data = mesh_pb2.Data()
    data.CopyFrom(decoded)
    data.bitfield = decoded.bitfield  # assignment marks the optional field present, as has_bitfield = true
    return MESHTASTIC_HEADER_LEN + len(data.SerializeToString())


def node_id(node_num: int) -> str:
    return f"!{node_num:08x}"


# ---------------------------------------------------------------------------------------------- state


def default_state(node_num: int, name: str, *, role: str, preset: str, region: str, hop_limit: int,
                  rng: random.Random) -> dict[str, Any]:
    """Factory defaults, close to a freshly flashed 2.7 node (region set, as our technicians provision)."""
    cfg = localonly_pb2.LocalConfig()
    cfg.device.role = config_pb2.Config.DeviceConfig.Role.Value(role)
    cfg.device.node_info_broadcast_secs = 10800
    cfg.position.position_broadcast_secs = 900
    cfg.position.position_broadcast_smart_enabled = True
    cfg.position.gps_mode = config_pb2.Config.PositionConfig.GpsMode.NOT_PRESENT
    cfg.power.ls_secs = 300
    cfg.network.ntp_server = "meshtastic.pool.ntp.org"
    cfg.display.screen_on_secs = 600
    cfg.lora.use_preset = True
    cfg.lora.modem_preset = config_pb2.Config.LoRaConfig.ModemPreset.Value(preset)
    cfg.lora.region = config_pb2.Config.LoRaConfig.RegionCode.Value(region)
    cfg.lora.hop_limit = hop_limit
    cfg.lora.tx_enabled = True
    cfg.lora.tx_power = 27  # ETSI EN 300 220 allows 500 mW ERP in 869.4-869.65 MHz; firmware caps EU_868 at 27 dBm
    cfg.lora.sx126x_rx_boosted_gain = True
    cfg.bluetooth.enabled = True
    cfg.bluetooth.mode = config_pb2.Config.BluetoothConfig.PairingMode.RANDOM_PIN
    # Firmware generates a Curve25519 key pair on first boot; ours is derived from the seeded RNG.
    private = X25519PrivateKey.from_private_bytes(rng.randbytes(32))
    cfg.security.private_key = private.private_bytes_raw()
    cfg.security.public_key = private.public_key().public_bytes_raw()
    cfg.security.serial_enabled = True
    cfg.version = DEVICE_STATE_VERSION
    mod = localonly_pb2.LocalModuleConfig()
    mod.mqtt.encryption_enabled = True
    mod.mqtt.address = "mqtt.meshtastic.org"
    mod.mqtt.root = "msh"
    mod.neighbor_info.update_interval = 14400
    mod.telemetry.device_update_interval = 1800
    mod.canned_message.enabled = False
    mod.version = DEVICE_STATE_VERSION
    channels = []
    for index in range(8):
        ch = channel_pb2.Channel(index=index, role=channel_pb2.Channel.Role.DISABLED)
        if index == 0:
            ch.role = channel_pb2.Channel.Role.PRIMARY
            ch.settings.psk = b"\x01"  # the well-known default key ("AQ==")
            ch.settings.module_settings.position_precision = 13
        channels.append(ch)
    owner = mesh_pb2.User(id=node_id(node_num), long_name=name, short_name=f"{node_num & 0xFFFF:04x}",
                          hw_model=mesh_pb2.HardwareModel.PORTDUINO, role=cfg.device.role,
                          public_key=cfg.security.public_key)
    return {"config": cfg, "module_config": mod, "channels": channels, "owner": owner,
            "canned_messages": "", "ringtone": "", "nodes": {}}


def _b64(msg: Any) -> str:
    return base64.b64encode(msg.SerializeToString()).decode("ascii")


def _parse(cls: Any, text: str) -> Any:
    msg = cls()
    msg.ParseFromString(base64.b64decode(text, validate=True))
    return msg


def save_state(path: Path, state: dict[str, Any]) -> None:
    """Atomic: write a temp file, fsync it, rename over the old one, fsync the directory."""
    doc = {
        "version": STATE_VERSION,
        "config": _b64(state["config"]), "module_config": _b64(state["module_config"]),
        "channels": [_b64(c) for c in state["channels"]], "owner": _b64(state["owner"]),
        "canned_messages": state["canned_messages"], "ringtone": state["ringtone"],
        "nodes": [_b64(n) for n in state["nodes"].values()],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(doc, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def load_state(path: Path) -> dict[str, Any]:
    """Corrupt state is loud: a StoreError naming the file, never a silent factory reset."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc.get("version") != STATE_VERSION:
            raise ValueError(f"unknown version {doc.get('version')!r}")
        nodes = [_parse(mesh_pb2.NodeInfo, n) for n in doc["nodes"]]
        channels = [_parse(channel_pb2.Channel, c) for c in doc["channels"]]
        if len(channels) != 8:
            raise ValueError("expected 8 channels")
        return {
            "config": _parse(localonly_pb2.LocalConfig, doc["config"]),
            "module_config": _parse(localonly_pb2.LocalModuleConfig, doc["module_config"]),
            "channels": channels, "owner": _parse(mesh_pb2.User, doc["owner"]),
            "canned_messages": str(doc["canned_messages"]), "ringtone": str(doc["ringtone"]),
            "nodes": {n.num: n for n in nodes},
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise StoreError(f"virtual radio state {path} is unreadable: {exc}") from exc
    except Exception as exc:  # protobuf DecodeError has no common base we can import portably
        raise StoreError(f"virtual radio state {path} is corrupt: {exc}") from exc


# --------------------------------------------------------------------------------------------- device


class VirtualDevice:
    """The client-facing half of one simulated radio. Call every method under the mesh lock."""

    def __init__(self, mesh: Any, node_num: int, name: str, *, role: str = "CLIENT", preset: str = "LONG_FAST",
                 region: str = "EU_868", hop_limit: int = 3, state_dir: Path | None = None, seed: int = 0,
                 epoch_base: float = 1_700_000_000.0) -> None:
        self.mesh = mesh
        self.node_num = node_num
        self.name = name
        self.rng = random.Random((seed << 32) ^ node_num)
        self.epoch_base = epoch_base  # rx_time/last_heard are epoch seconds for the client; virtual t=0 maps here
        self.state_path = state_dir / f"{name}.json" if state_dir else None
        if self.state_path and self.state_path.exists():
            self.state = load_state(self.state_path)
        else:
            self.state = default_state(node_num, name, role=role, preset=preset, region=region,
                                       hop_limit=hop_limit, rng=self.rng)
            self._save()
        self.decoder = FrameDecoder()
        self._write: Callable[[bytes], None] | None = None
        self._configured = False  # PhoneAPI sends packets only after the client's want_config handshake
        self._to_phone: deque[mesh_pb2.MeshPacket] = deque(maxlen=MAX_RX_TOPHONE)
        self._from_radio_id = 0
        self._packet_counter = self.rng.randrange(0x3FF)
        self._recent_ids: deque[int] = deque(maxlen=64)
        self._client_ids: deque[int] = deque(maxlen=64)
        self._passkey = self.rng.randbytes(8)
        self._nodeinfo_replied: dict[int, float] = {}
        self.in_edit_transaction = False
        self.undecodable_frames = 0
        self._apply_to_mesh()  # a persisted role/hop limit is in force from boot

    # -- client connection ------------------------------------------------------------------------

    def attach(self, write: Callable[[bytes], None]) -> None:
        """A new client replaces the old one, as a second serial open does on real hardware."""
        self._write = write
        self._configured = False
        self.decoder.reset()

    def detach(self) -> None:
        self._write = None
        self._configured = False
        self.decoder.reset()

    @property
    def attached(self) -> bool:
        return self._write is not None

    def receive_bytes(self, data: bytes) -> None:
        for frame in self.decoder.feed(data):
            msg = mesh_pb2.ToRadio()
            try:
                msg.ParseFromString(frame)
            except Exception as exc:  # google.protobuf.message.DecodeError
                self.undecodable_frames += 1
                log.warning("%s: undecodable ToRadio (%d bytes): %s", self.name, len(frame), exc)
                continue
            try:
                self._handle_to_radio(msg)
            except Exception:
                # A bug or odd input must not take the radio down for every other client and node.
                log.exception("%s: error handling ToRadio", self.name)

    def _emit(self, **fields: Any) -> None:
        if self._write is None:
            return
        self._from_radio_id += 1
        msg = mesh_pb2.FromRadio(id=self._from_radio_id, **fields)
        self._write(encode_frame(msg))

    def _handle_to_radio(self, msg: mesh_pb2.ToRadio) -> None:
        kind = msg.WhichOneof("payload_variant")
        if kind == "want_config_id":
            self._send_config(msg.want_config_id)
        elif kind == "packet":
            self._handle_client_packet(msg.packet)
        elif kind == "heartbeat":
            # Firmware answers a heartbeat with the queue status so the client sees the radio is alive.
            self._emit(queueStatus=self._queue_status(0))
        elif kind == "disconnect":
            log.info("%s: client said disconnect", self.name)
            self._configured = False
        else:
            log.debug("%s: ignoring ToRadio %s", self.name, kind)

    # -- handshake --------------------------------------------------------------------------------

    def _send_config(self, config_id: int) -> None:
        """Same order as firmware PhoneAPI: my_info, own node, metadata, channels, config, modules, nodes."""
        st = self.state
        self._emit(my_info=mesh_pb2.MyNodeInfo(my_node_num=self.node_num, min_app_version=30200,
                                               device_id=self.node_num.to_bytes(4, "big") * 4,
                                               pio_env="native", nodedb_count=len(st["nodes"]) + 1))
        self._emit(node_info=self._own_node_info())
        self._emit(metadata=self._metadata())
        for ch in st["channels"]:
            self._emit(channel=ch)
        cfg = st["config"]
        for name in LOCAL_CONFIG_FIELDS:
            self._emit(config=config_pb2.Config(**{name: getattr(cfg, name)}))
        self._emit(config=config_pb2.Config(sessionkey=config_pb2.Config.SessionkeyConfig()))
        for name in MODULE_FIELDS:
            mod = localonly_pb2.LocalModuleConfig()
            getattr(mod, name).CopyFrom(getattr(st["module_config"], name))
            self._emit(moduleConfig=module_config_pb2.ModuleConfig(**{name: getattr(mod, name)}))
        if config_id != NODELESS_WANT_CONFIG_ID:
            for info in st["nodes"].values():
                if info.HasField("user"):
                    self._emit(node_info=info)
        self._emit(config_complete_id=config_id)
        self._configured = True
        while self._to_phone and self._write is not None:
            self._emit(packet=self._to_phone.popleft())

    def _own_node_info(self) -> mesh_pb2.NodeInfo:
        info = mesh_pb2.NodeInfo(num=self.node_num, user=self.state["owner"],
                                 last_heard=self._epoch(self.mesh.clock.now()))
        if "position" in self.state:
            info.position.CopyFrom(self.state["position"])
        return info

    def _metadata(self) -> mesh_pb2.DeviceMetadata:
        return mesh_pb2.DeviceMetadata(
            firmware_version=FIRMWARE_VERSION, device_state_version=DEVICE_STATE_VERSION, canShutdown=True,
            hasWifi=False, hasBluetooth=True, hasEthernet=False, role=self.state["config"].device.role,
            position_flags=self.state["config"].position.position_flags, hw_model=mesh_pb2.HardwareModel.PORTDUINO,
            hasPKC=True)

    def _epoch(self, t: float) -> int:
        return int(self.epoch_base + t)

    # -- packets from the client ------------------------------------------------------------------

    def next_packet_id(self) -> int:
        """Firmware generatePacketId: a rolling 10-bit counter under 22 random bits."""
        self._packet_counter = (self._packet_counter + 1) & 0x3FF
        return self._packet_counter | (self.rng.getrandbits(22) << 10)

    def _queue_status(self, packet_id: int, res: int = 0) -> mesh_pb2.QueueStatus:
        node = self.mesh.node(self.node_num)
        free = getattr(node, "tx_queue_free", 16)
        maxlen = getattr(node, "tx_queue_max", 16)
        if hasattr(node, "told_full"):
            node.told_full = free == 0  # the mesh then says when there is room again
        return mesh_pb2.QueueStatus(res=res, free=free, maxlen=maxlen, mesh_packet_id=packet_id)

    def _handle_client_packet(self, pkt: mesh_pb2.MeshPacket) -> None:
        if pkt.id == 0:
            pkt.id = self.next_packet_id()
        duplicate = pkt.id in self._recent_ids
        self._recent_ids.append(pkt.id)
        if duplicate:
            # The library re-sends packets it has no queueStatus for yet; the router drops duplicates.
            log.debug("%s: duplicate packet %08x from client", self.name, pkt.id)
        elif pkt.to in (self.node_num, 0):
            self._handle_local_packet(pkt)
        elif self._send_to_mesh(pkt):
            return  # the mesh answers with on_queue_status for this packet id
        self._emit(queueStatus=self._queue_status(pkt.id))

    def _send_to_mesh(self, pkt: mesh_pb2.MeshPacket) -> bool:
        """Hand a client packet to the router; False when refused here (NAK already sent)."""
        from nspgw.sim.mesh import RadioPacket

        if pkt.WhichOneof("payload_variant") != "decoded":
            self.nak(pkt.id, ROUTING.BAD_REQUEST, pkt.channel)
            return False
        strict = getattr(self.mesh, "strict_frame_limit", True)
        if strict and encoded_frame_len(pkt.decoded) > MAX_LORA_PAYLOAD_LEN:
            # Router::send -> perhapsEncode fails with TOO_LARGE; the NAK goes only to our client.
            self.nak(pkt.id, ROUTING.TOO_LARGE, pkt.channel)
            return False
        if pkt.channel > 7 or self.state["channels"][pkt.channel].role == channel_pb2.Channel.Role.DISABLED:
            self.nak(pkt.id, ROUTING.NO_CHANNEL, 0)
            return False
        d = pkt.decoded
        if pkt.to != BROADCAST and d.portnum not in PKI_EXEMPT_PORTS:
            # Router::perhapsEncode (2.7): a DM on any other port is PKI-encrypted or not sent at all: first
            # the size with the PKI overhead (TOO_LARGE), then the destination's public key in the node DB
            # (PKI_SEND_FAIL_PUBLIC_KEY; NodeInfo teaches keys).
            if strict and encoded_frame_len(d) + PKI_OVERHEAD > MAX_LORA_PAYLOAD_LEN:
                self.nak(pkt.id, ROUTING.TOO_LARGE, pkt.channel)
                return False
            info = self.state["nodes"].get(pkt.to)
            if info is None or len(info.user.public_key) != 32:
                self.nak(pkt.id, ROUTING.PKI_SEND_FAIL_PUBLIC_KEY, pkt.channel)
                return False
            keys = (bytes(self.state["config"].security.public_key), bytes(info.user.public_key))
        else:
            keys = ()
        # Router::sendLocal (v2.7.26): a client's hop limit 0 stands (a packet for direct neighbours only);
        # only a want_ack packet asking for 0 gets the configured default.
        hop_limit = pkt.hop_limit
        if pkt.want_ack and hop_limit == 0:
            hop_limit = self.state["config"].lora.hop_limit or 3
        radio = RadioPacket(
            src=self.node_num, dest=pkt.to, packet_id=pkt.id, portnum=d.portnum, payload=bytes(d.payload),
            channel=pkt.channel, want_ack=pkt.want_ack, want_response=d.want_response,
            request_id=d.request_id, reply_id=d.reply_id, hop_limit=min(hop_limit, 7), hop_start=min(hop_limit, 7),
            priority=pkt.priority, emoji=d.emoji, bitfield=d.bitfield, pki_keys=keys)  # UNSET: fixPriority
        self._client_ids.append(pkt.id)
        self.mesh.send(self.node_num, radio)
        return True

    def nak(self, packet_id: int, error: int, channel: int = 0) -> None:
        """A ROUTING_APP packet from ourselves, as Router::abortSendAndNak gives the client."""
        self._to_client(self._routing_packet(packet_id, error, channel))

    def _routing_packet(self, request_id: int, error: int, channel: int) -> mesh_pb2.MeshPacket:
        pkt = self._local_packet(PORT.ROUTING_APP, mesh_pb2.Routing(error_reason=error).SerializeToString(),
                                 request_id=request_id, channel=channel)
        pkt.priority = mesh_pb2.MeshPacket.Priority.ACK
        return pkt

    def _local_packet(self, portnum: int, payload: bytes, *, request_id: int, channel: int) -> mesh_pb2.MeshPacket:
        pkt = mesh_pb2.MeshPacket(to=self.node_num, id=self.next_packet_id(), channel=channel,
                                  rx_time=self._epoch(self.mesh.clock.now()),
                                  priority=mesh_pb2.MeshPacket.Priority.RESPONSE)
        setattr(pkt, "from", self.node_num)
        pkt.decoded.portnum = portnum
        pkt.decoded.payload = payload
        pkt.decoded.request_id = request_id
        return pkt

    def _to_client(self, pkt: mesh_pb2.MeshPacket) -> None:
        if self._write is not None and self._configured:
            self._emit(packet=pkt)
        else:
            self._to_phone.append(pkt)  # deque(maxlen) drops the oldest, like firmware's toPhoneQueue

    # -- admin (to ourselves) ---------------------------------------------------------------------

    def _handle_local_packet(self, pkt: mesh_pb2.MeshPacket) -> None:
        d = pkt.decoded
        if pkt.WhichOneof("payload_variant") == "decoded" and d.portnum == PORT.ADMIN_APP:
            admin = admin_pb2.AdminMessage()
            try:
                admin.ParseFromString(d.payload)
            except Exception:
                log.warning("%s: undecodable admin message", self.name)
                self._to_client(self._routing_packet(pkt.id, ROUTING.BAD_REQUEST, pkt.channel))
                return
            reply = self._handle_admin(admin)
            if reply is not None:
                reply.session_passkey = self._passkey
                self._to_client(self._local_packet(PORT.ADMIN_APP, reply.SerializeToString(),
                                                   request_id=pkt.id, channel=pkt.channel))
                return
        # AdminModule: a set without its own reply answers want_response with an empty (NONE) routing reply.
        if d.want_response or pkt.want_ack:
            self._to_client(self._routing_packet(pkt.id, ROUTING.NONE, pkt.channel))

    def _handle_admin(self, admin: admin_pb2.AdminMessage) -> admin_pb2.AdminMessage | None:
        st = self.state
        kind = admin.WhichOneof("payload_variant")
        out = admin_pb2.AdminMessage()
        log.info("%s: admin %s", self.name, kind)
        if kind == "get_config_request":
            section = CONFIG_BY_TYPE.get(admin.get_config_request)
            if section is None:
                return None
            target = getattr(out.get_config_response, section)
            if section in LOCAL_CONFIG_FIELDS:
                target.CopyFrom(getattr(st["config"], section))
            else:
                target.SetInParent()  # sessionkey / device_ui: present and empty
        elif kind == "get_module_config_request":
            idx = admin.get_module_config_request
            if not 0 <= idx < len(MODULE_FIELDS):
                return None
            section = MODULE_FIELDS[idx]
            getattr(out.get_module_config_response, section).CopyFrom(getattr(st["module_config"], section))
        elif kind == "get_channel_request":
            idx = admin.get_channel_request - 1  # the request is index + 1 (node.py _requestChannel)
            if not 0 <= idx < 8:
                return None
            out.get_channel_response.CopyFrom(st["channels"][idx])
        elif kind == "get_owner_request":
            out.get_owner_response.CopyFrom(st["owner"])
        elif kind == "get_device_metadata_request":
            out.get_device_metadata_response.CopyFrom(self._metadata())
        elif kind == "get_canned_message_module_messages_request":
            out.get_canned_message_module_messages_response = st["canned_messages"]
        elif kind == "get_ringtone_request":
            out.get_ringtone_response = st["ringtone"]
        else:
            self._apply_admin_set(kind, admin)
            return None
        return out

    def _apply_admin_set(self, kind: str | None, admin: admin_pb2.AdminMessage) -> None:
        st = self.state
        if kind == "set_config":
            section = admin.set_config.WhichOneof("payload_variant")
            if section == "device":
                warning = set_device_config(st["config"], st["owner"], admin.set_config.device)
                if warning:
                    self._emit(clientNotification=mesh_pb2.ClientNotification(
                        level=mesh_pb2.LogRecord.Level.WARNING, message=warning,
                        time=self._epoch(self.mesh.clock.now())))
                self._apply_to_mesh()
            elif section in LOCAL_CONFIG_FIELDS:
                getattr(st["config"], section).CopyFrom(getattr(admin.set_config, section))
                self._apply_to_mesh()
        elif kind == "set_module_config":
            section = admin.set_module_config.WhichOneof("payload_variant")
            if section in MODULE_FIELDS:
                getattr(st["module_config"], section).CopyFrom(getattr(admin.set_module_config, section))
        elif kind == "set_channel":
            ch = admin.set_channel
            if 0 <= ch.index < 8:
                copy = channel_pb2.Channel()
                copy.CopyFrom(ch)
                st["channels"][ch.index] = copy
        elif kind == "set_owner":
            owner, new = st["owner"], admin.set_owner
            if new.long_name:
                owner.long_name = new.long_name
            if new.short_name:
                owner.short_name = new.short_name[:4]
            owner.is_licensed = new.is_licensed
            owner.is_unmessagable = new.is_unmessagable
        elif kind == "set_canned_message_module_messages":
            st["canned_messages"] = admin.set_canned_message_module_messages
        elif kind == "set_ringtone_message":
            st["ringtone"] = admin.set_ringtone_message
        elif kind == "begin_edit_settings":
            self.in_edit_transaction = True
            return
        elif kind == "commit_edit_settings":
            self.in_edit_transaction = False
            # AdminModule: saving a changed config reboots a real radio, and NodeInfoModule announces the
            # node after boot; the connection is kept here, but the announcement (with the new owner and
            # key) is what the neighbours see, and it is how they learn the key for PKI.
            self.announce(want_response=True)
        elif kind in ("set_favorite_node", "remove_favorite_node"):
            num = getattr(admin, kind)
            info = st["nodes"].setdefault(num, mesh_pb2.NodeInfo(num=num))
            info.is_favorite = kind == "set_favorite_node"
            self._apply_to_mesh()
        elif kind == "remove_by_nodenum":
            st["nodes"].pop(admin.remove_by_nodenum, None)
            # NodeInfoModule::pruneLastNodeInfoCache: the 12 h reply suppression is kept only for nodes in the DB.
            self._nodeinfo_replied.pop(admin.remove_by_nodenum, None)
        elif kind == "nodedb_reset":
            st["nodes"].clear()
            self._nodeinfo_replied.clear()
        elif kind in ("factory_reset_config", "factory_reset_device"):
            cfg = st["config"]
            fresh = default_state(self.node_num, self.name, role="CLIENT",
                                  preset=config_pb2.Config.LoRaConfig.ModemPreset.Name(cfg.lora.modem_preset),
                                  region="EU_868", hop_limit=3, rng=self.rng)
            if kind == "factory_reset_config":  # NodeDB::factoryReset -> installDefaultConfig(preserveKey)
                fresh["config"].security.private_key = st["config"].security.private_key
                fresh["config"].security.public_key = st["config"].security.public_key
                fresh["owner"].public_key = st["config"].security.public_key
            st.clear()
            st.update(fresh)
            self.announce(want_response=True)  # the radio reboots and NodeInfoModule announces it
        elif kind == "set_fixed_position":
            st["position"] = admin.set_fixed_position
            st["config"].position.fixed_position = True
        elif kind == "remove_fixed_position":
            st.pop("position", None)
            st["config"].position.fixed_position = False
        else:
            # reboot/shutdown/set_time/favourites and the rest: accepted, no simulated effect.
            log.info("%s: admin %s accepted without simulated effect", self.name, kind)
            return
        if not self.in_edit_transaction:
            self._save()

    def _apply_to_mesh(self) -> None:
        """Settings the router model uses live (role, hop limit); preset/region are mesh-wide in the model."""
        node = self.mesh.node(self.node_num)
        cfg = self.state["config"]
        role = config_pb2.Config.DeviceConfig.Role.Name(cfg.device.role)
        mode = config_pb2.Config.DeviceConfig.RebroadcastMode.Name(cfg.device.rebroadcast_mode)
        # NodeDB: nodes with a User (KNOWN_ONLY / LOCAL_ONLY decisions) and favourites (CLIENT_BASE).
        nodes = self.state["nodes"]
        known = {num for num, info in nodes.items() if info.HasField("user")}
        favourites = {num for num, info in nodes.items() if info.is_favorite}
        for attr, value in (("hop_limit", cfg.lora.hop_limit or 3), ("role", role), ("rebroadcast_mode", mode),
                            ("known", known), ("favourites", favourites)):
            try:
                setattr(node, attr, value)
            except (AttributeError, TypeError):
                log.debug("%s: mesh node has no settable %s", self.name, attr)

    def _save(self) -> None:
        if self.state_path is not None:
            save_state(self.state_path, self.state)

    # -- from the mesh ----------------------------------------------------------------------------

    def announce(self, *, want_response: bool = True) -> None:
        """NodeInfoModule at boot: broadcast our User; want_response asks heard nodes to answer with theirs."""
        from nspgw.sim.mesh import RadioPacket

        hop = self.state["config"].lora.hop_limit or 3
        self.mesh.send(self.node_num, RadioPacket(
            src=self.node_num, dest=BROADCAST, packet_id=self.next_packet_id(), portnum=PORT.NODEINFO_APP,
            payload=self.state["owner"].SerializeToString(), want_response=want_response,
            hop_limit=hop, hop_start=hop, priority=mesh_pb2.MeshPacket.Priority.BACKGROUND))

    def pki_decrypt(self, p: Any) -> int:
        """Router::perhapsDecode of a PKI DM for us, and the NAK ReliableRouter::sniffReceived sends when it
        fails: without the sender's key no PKI decryption is tried (PKI_UNKNOWN_PUBKEY); with it, the shared
        secret only matches when the sender encrypted to our current key with the key we hold for it (a
        replaced radio has a new key: NO_CHANNEL, as no channel decrypts it either)."""
        sender = self.state["nodes"].get(p.src)
        if sender is None or len(sender.user.public_key) != 32:
            return int(ROUTING.PKI_UNKNOWN_PUBKEY)
        own = bytes(self.state["config"].security.public_key)
        if p.pki_keys and p.pki_keys != (bytes(sender.user.public_key), own):
            return int(ROUTING.NO_CHANNEL)
        return int(ROUTING.NONE)

    def deliver(self, rx: Any) -> None:
        """A packet the firmware router hands to its client (addressed to us, broadcast, or an ack/nak)."""
        p = rx.packet
        now = self.mesh.clock.now()
        if not p.pki and (p.channel > 7
                          or self.state["channels"][p.channel].role == channel_pb2.Channel.Role.DISABLED):
            log.info("%s: packet %08x on channel %d we do not have, not decoded", self.name, p.packet_id, p.channel)
            return
        pkt = mesh_pb2.MeshPacket(to=p.dest, id=p.packet_id, channel=p.channel, rx_time=self._epoch(rx.rx_time),
                                  rx_snr=rx.rx_snr, rx_rssi=int(rx.rx_rssi), hop_limit=p.hop_limit,
                                  hop_start=p.hop_start, want_ack=p.want_ack, priority=p.priority,
                                  relay_node=rx.relay_node & 0xFF, next_hop=p.next_hop)
        if p.pki:
            # Router::perhapsDecode: decrypted with our node key; the channel index is 0 on a PKI packet.
            pkt.channel = 0
            pkt.pki_encrypted = True
            sender = self.state["nodes"].get(p.src)
            if sender is not None and sender.HasField("user"):
                pkt.public_key = sender.user.public_key
        setattr(pkt, "from", p.src)
        d = pkt.decoded
        d.portnum, d.payload, d.want_response = p.portnum, p.payload, p.want_response
        d.request_id, d.reply_id, d.emoji, d.bitfield = p.request_id, p.reply_id, p.emoji, p.bitfield
        if p.src != self.node_num:
            self._heard(p, rx, now)
            if (p.portnum == PORT.ROUTING_APP and p.dest == self.node_num
                    and mesh_pb2.Routing.FromString(p.payload).error_reason == ROUTING.PKI_UNKNOWN_PUBKEY):
                self._reply_nodeinfo(p.src, 0)  # ReliableRouter::sniffReceived: "PKI decrypt failure, send a NodeInfo"
        self._to_client(pkt)

    def _heard(self, p: Any, rx: Any, now: float) -> None:
        nodes = self.state["nodes"]
        info = nodes.get(p.src) or mesh_pb2.NodeInfo(num=p.src)
        new_user = False
        info.last_heard = self._epoch(rx.rx_time)
        info.snr = rx.rx_snr
        info.hops_away = max(0, p.hop_start - p.hop_limit)
        info.channel = p.channel
        if p.portnum == PORT.NODEINFO_APP:
            try:
                user = mesh_pb2.User.FromString(p.payload)
            except Exception:
                log.warning("%s: undecodable NODEINFO from %s", self.name, node_id(p.src))
            else:
                old_key = bytes(info.user.public_key) if info.HasField("user") else b""
                if len(old_key) == 32 and bytes(user.public_key) != old_key:
                    # NodeDB::updateUser: "Public Key mismatch, dropping NodeInfo" — a key once learned is kept;
                    # a replaced radio stays unreachable by PKI DMs until its node is removed from the DB.
                    log.info("%s: public key mismatch for %s, NodeInfo dropped", self.name, node_id(p.src))
                else:
                    new_user = not info.HasField("user") or info.user != user
                    info.user.CopyFrom(user)
            # NodeInfoModule answers a want_response broadcast with our own User, at most every 12 h per node.
            last = self._nodeinfo_replied.get(p.src)
            if p.want_response and (last is None or now - last > 12 * 3600):
                self._nodeinfo_replied[p.src] = now
                self._reply_nodeinfo(p.src, p.packet_id)
        nodes[p.src] = info
        if new_user:
            self._apply_to_mesh()
            self._save()

    def _reply_nodeinfo(self, dest: int, request_id: int) -> None:
        from nspgw.sim.mesh import RadioPacket

        hop = self.state["config"].lora.hop_limit or 3
        self.mesh.send(self.node_num, RadioPacket(
            src=self.node_num, dest=dest, packet_id=self.next_packet_id(), portnum=PORT.NODEINFO_APP,
            payload=self.state["owner"].SerializeToString(), request_id=request_id, hop_limit=hop,
            hop_start=hop, priority=mesh_pb2.MeshPacket.Priority.BACKGROUND))

    def duty_cycle_refused(self, packet_id: int, silent_minutes: int) -> None:
        """Router::send over the hourly duty cycle: besides the NAK (which the mesh delivers as a packet)
        firmware sends its client this notification, with reply_id = the refused packet."""
        self._emit(clientNotification=mesh_pb2.ClientNotification(
            reply_id=packet_id, level=mesh_pb2.LogRecord.Level.WARNING, time=self._epoch(self.mesh.clock.now()),
            message=f"Duty cycle limit exceeded. You can send again in {silent_minutes} mins"))

    def queue_status(self, res: int, free: int, maxlen: int, packet_id: int) -> None:
        """The router's answer to a packet our client sent (our own NODEINFO sends are not the client's)."""
        if packet_id in self._client_ids or packet_id == 0:  # 0: room again after "queue full"
            self._emit(queueStatus=mesh_pb2.QueueStatus(res=res, free=free, maxlen=maxlen, mesh_packet_id=packet_id))
