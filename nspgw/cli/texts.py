"""Operator-facing texts: one catalogue, Dutch first, English available.

`t(key, lang, **fields)` looks a text up; a missing English text falls back to Dutch so that an operator never
sees a key instead of a sentence.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the core stays out of quick commands' imports (cli/__init__.py)
    from nspgw.core.actions import Detail, Notice

NL: dict[str, str] = {
    "sim.ignored_key": "let op: scenario.{name} is onbekend en wordt genegeerd (hoe frames vertrekken volgt nu "
                       "altijd de dienst zelf; zie docs/simulation.md)",
    # operator notices from the core (nspgw.core.actions.Notice): notice.<kind>[.<variant>]
    "notice.expired": "Bericht {seq} ({prec}) aan {who} is VERLOPEN zonder bevestiging",
    "notice.expired.detail": "Bericht {seq} ({prec}) aan {who} is VERLOPEN zonder bevestiging: {detail}",
    "detail.ttl": "tijd verstreken",
    "detail.given_up": "opgegeven door {by}",
    "detail.unsendable": "kan niet worden verzonden ({error})",
    "detail.delivered_late": "laat afgeleverd",
    "detail.handed_over": "overgedragen aan {to}",
    "detail.custody_expired": "verlopen",
    "notice.to_box": "post {to}",
    "notice.to_all": "alle posten",
    "notice.delivered_late": "Bericht {seq} aan post {to} is toch AFGELEVERD (na de melding VERLOPEN); "
                             "niet opnieuw sturen.",
    "notice.clone_suspected": "Post {box} zond twee verschillende frames met hetzelfde volgnummer {counter}: er "
                              "draaien twee kopieën van dat kastje (gekloonde SD-kaart of teruggezette back-up). "
                              "Controleer het kastje; trek het in als het gestolen of gekloond is.",
    "notice.clone_suspected.sync": "Post {box} ziet frametellers van dit kastje die wij niet verstuurd hebben: "
                                   "mogelijk een gekloonde SD-kaart. Waarschuw de beheerder.",
    "notice.roster_newer": "Post {box} meldt rosterversie {version}; dit kastje heeft versie {mine}. Mogelijk is "
                           "een kastje ingetrokken: vraag de GCT de wijziging opnieuw uit te zenden of importeer "
                           "de nieuwe roster (nspgw roster import).",
    "notice.seq_conflict": "Post {box} hergebruikt berichtnummer {seq} voor een ander bericht (teruggezette "
                           "back-up?). Dat bericht is niet afgeleverd; vraag de afzender het opnieuw te sturen.",
    "notice.counter_resync": "Tellers bijgesteld na melding van {box} (kastje teruggezet uit een back-up?)",
    "sim.internal_error": "interne fout in de oefening op t={t:.0f} s bij post {box}: {cause} (toestand: {state}). "
                          "Dit is een fout in nspgw, niet in het scenario; meld het met dit scenario en zijn seed.",
    "accepted": "Bericht {id} geaccepteerd ({priority}) voor {to}. Het blijft bewaard tot het is afgeleverd.",
    "daemon_down_hint": "Let op: de nspgw-dienst draait niet; het bericht wacht tot de dienst start.",
    "unknown_recipient": "onbekende ontvanger {to!r}; bekend zijn: {known}",
    "empty_text": "het bericht is leeg",
    "file_and_text": "geef een tekst of --file, niet allebei",
    "file_unreadable": "bestand {path} is niet te lezen: {reason}",
    "file_not_utf8": "de tekst is geen geldige UTF-8 (onleesbaar teken op positie {pos}); sla het bestand op als UTF-8",
    "text_too_long": "het bericht is te lang ({n} tekens; maximaal {max})",
    "bad_priority": "ongeldige prioriteit {value!r}; kies uit flash, immediate, priority, routine",
    "bad_ttl": "ongeldige geldigheidsduur {value!r}; gebruik bijvoorbeeld 30m, 6h of 2d",
    "no_messages": "Geen berichten.",
    "not_found": "bericht {id} niet gevonden",
    "state.accepted": "geaccepteerd",
    "state.queued": "in wachtrij",
    "state.in_flight": "onderweg",
    "state.held_by_relay": "bij coördinatiepunt in bewaring",
    "state.delivered": "afgeleverd",
    "state.expired": "verlopen",
    "via.ip": "via IP",
    "via.radio": "via radio",
    "prio.flash": "FLASH",
    "prio.immediate": "SPOED",
    "prio.priority": "VOORRANG",
    "prio.routine": "ROUTINE",
    # technician commands (init, keys, roster, selftest)
    "tech.bad_role": "onbekende rol {role!r}; kies nsp, cp of gct",
    "tech.nsp_needs_parent": "een NSP heeft een coördinatiepunt nodig: geef --parent NAAM-VAN-DE-CP",
    "tech.parent_only_nsp": "--parent hoort alleen bij een NSP",
    "tech.config_exists": "configuratie {path} bestaat al; niets gewijzigd. Bewerk het bestand, of gebruik --force "
                          "voor een nieuwe box (NIEUWE sleutels; opnieuw aanmelden nodig)",
    "tech.keys_exist": "in {dir} staan al sleutels van deze box; niets gewijzigd. --force maakt nieuwe sleutels "
                       "(de oude worden bewaard) en de box moet opnieuw aangemeld worden",
    "tech.keys_retired": "LET OP: oude sleutels (vingerafdruk {fp}) verplaatst naar {dir}. Laat de oude box "
                         "intrekken (nspgw roster revoke) en meld deze box opnieuw aan.",
    "tech.init_done": "Configuratie geschreven: {path} (box {name}, rol {role}).",
    "tech.fingerprint": "Vingerafdruk van deze box: {fp}",
    "tech.request_written": "Aanmeldverzoek: {path} — breng dit naar de netwerkautoriteit (nspgw roster add).",
    "tech.cannot_write": "kan niet schrijven in {path} ({why}); als root uitvoeren (sudo)?",
    "tech.node_from_radio": "Node-id van de radio uitgelezen: {node} (staat in het aanmeldverzoek).",
    "tech.node_id_hint": "Node-id van de radio nog onbekend: geef het bij `nspgw roster add --node-id` "
                         "(`nspgw radio detect` toont het).",
    "tech.imported_bundle": "Aangemeld: adres {addr}, roster versie {version}, netwerksleutel {epoch}. "
                            "Netwerkautoriteit: {afp}. Herstart de dienst als die draait.",
    "tech.imported_roster": "Roster versie {version} geïnstalleerd. Herstart de dienst als die draait.",
    "tech.roster_unchanged": "Roster versie {version} was al geïnstalleerd; niets gewijzigd.",
    "tech.authority_created": "Netwerkautoriteit voor netwerk {network} gemaakt in {dir}.\nVingerafdruk: {fp}\n"
                              "Schrijf deze op en bewaar de map offline, in twee kopieën.",
    "tech.added": "Toegevoegd aan het concept: {name} ({role}) adres {addr}, radio {node}. Vingerafdruk {fp} — "
                  "vergelijk met wat de box toonde. Daarna: nspgw roster sign",
    "tech.revoked": "{name} (adres {addr}) ingetrokken in het concept. Daarna: nspgw roster sign",
    "tech.signed": "Roster versie {version} getekend ({n} boxen).",
    "tech.delta_written": "Ondertekende rosterwijziging (één radioframe): {path}. Op de GCT-box: "
                          "nspgw roster broadcast {path}",
    "tech.broadcast": "Roster versie {version} overgenomen en wordt uitgezonden naar alle boxen.",
    "tech.key_rotated": "Nieuwe netwerksleutel (epoch {epoch}) wordt naar {n} boxen gestuurd, versleuteld per "
                        "box; ingetrokken boxen krijgen hem niet.",
    "tech.daemon_refused": "de dienst weigerde: {why}",
    "tech.rotated": "Netwerksleutel vernieuwd (epoch {epoch}) omdat een box is ingetrokken: geef elke box een "
                    "nieuwe bundel (nspgw roster bundle NAAM) of laat de GCT-box de sleutel verspreiden.",
    "tech.bundled": "Bundel voor {name} (adres {addr}): {path}. Op de box: nspgw roster import {path}",
    "selftest.ok": "goed",
    "selftest.warn": "LET OP",
    "selftest.fail": "FOUT",
    "selftest.skip": "niet getest",
    "selftest.summary_ok": "Alle controles geslaagd.",
    "selftest.summary_fail": "{n} controle(s) mislukt.",
    # operator commands (daemon helper)
    "broadcast_gct_only": "alleen het gemeentelijk crisisteam (GCT) kan een bulletin aan alle posten sturen",
    "bad_form": "onbekend formulier {value!r}; kies uit {known}",
    "form_and_text": "geef een formulier (--form) of een tekst, niet allebei",
    "bad_field": "ongeldig veld {value!r}; gebruik --veld sleutel=waarde",
    "form_needs_fields": "geef de velden met --veld sleutel=waarde (of start het commando in een terminal)",
    "field_without_form": "--veld hoort bij --form",
    "read_header": "Bericht {id} van {sender}, ontvangen {received}, {priority}, {via}",
    "no_peers": "Nog geen andere kastjes gehoord.",
    "presence.online": "broker: aanwezig (gemeld {ago} geleden)",
    "presence.offline": "broker: AFWEZIG (gemeld {ago} geleden)",
    "heard_ago": "gehoord {ago} geleden",
    "status_running": "Dienst draait op {box} (pid {pid}).",
    "status_not_running": "Dienst draait NIET op {box}: {why}. Berichten wachten in de wachtrij.",
    "status_radio": "Radio: {state} — {detail}",
    "status_ip": "IP-verbinding (MQTT): {state} — {detail}",
    "status_queue": "Wachtrij: {n} bericht(en) ({parts}); in bewaring voor anderen: {custody}",
    "status_airtime": "Zendtijd dit uur: {used:.1f} s gebruikt, {left:.1f} s over (grens {limit:.0f} s)",
    "status_peers": "Gehoorde kastjes: {n} (details: nspgw peers)",
    "status_backlog_none": "Achterstand radio: geen",
    "status_backlog_control": "Achterstand radio: geen berichten ({frames} controleframe(s) wachten: ontvangst-"
                              "bevestigingen, bakens)",
    "status_backlog": "Achterstand radio:",
    "status_backlog_line": "  {prio:<9} {n} bericht(en), {frames} frame(s), {air:.0f} s zendtijd; verzonden {when}",
    "backlog_within": "binnen ~{delay}",
    "backlog_unknown": "onbekend (radio niet beschikbaar)",
    "backlog_duty": " — wacht op zendtijd (duty cycle)",
    "status_backlog_hint": "  Zendtijd op: FLASH en SPOED gaan voor; ROUTINE wacht (wordt niet weggegooid, "
                           "wel gemeld als het verloopt). Houd routineberichten vast of maak ze korter.",
    "outbox_eta": "verwacht verzonden ~{at}",
    "outbox_eta_duty": "wacht op zendtijd, verwacht ~{at}",
    "outbox_eta_unknown": "wacht op de radio",
    "outbox_eta_expires": "wacht op zendtijd, verloopt waarschijnlijk eerder (verwacht ~{at})",
    "backlog_expiring": "; {n} verloopt naar verwachting vóór verzending",
    "radio.connected": "verbonden",
    "radio.connecting": "verbinden…",
    "radio.misconfigured": "VERKEERD INGESTELD, zendt niet",
    "radio.disconnected": "niet verbonden",
    "radio.disabled": "uitgeschakeld",
    "radio.stopped": "gestopt",
    "radio.auth_failed": "inlog geweigerd",
    "radio.tls_error": "TLS-fout",
    "radio.None": "onbekend",
    "ping_ok": "Antwoord van {name}: {rtt:.1f} s heen en terug {via}",
    "ping_signal": " (SNR {snr:.1f} dB, RSSI {rssi} dBm)",
    "ping_failed": "geen antwoord van {name}: {why}",
    "service_bad_user": "ongeldige gebruikersnaam {user!r}",
    "service_no_unit_dir": "map {dir} bestaat niet",
    "service_write_failed": "kan {path} niet schrijven: {why} (als root uitvoeren?)",
    "service_installed": (
        "Unit-bestand geschreven: {path}\n"
        "Volgende stappen (als root):\n"
        "  1. eenmalig de systeemgebruiker aanmaken:\n"
        "     useradd --system --home-dir /var/lib/nspgw --shell /usr/sbin/nologin --groups dialout {user}\n"
        "  2. systemctl daemon-reload && systemctl enable --now nspgw\n"
        "  3. controleren: nspgw status   (logboek: journalctl -u nspgw)"),
}

EN: dict[str, str] = {
    "sim.ignored_key": "note: scenario.{name} is unknown and ignored (how frames leave now always follows the "
                       "service itself; see docs/simulation.md)",
    "notice.expired": "Message {seq} ({prec}) to {who} EXPIRED without confirmation",
    "notice.expired.detail": "Message {seq} ({prec}) to {who} EXPIRED without confirmation: {detail}",
    "detail.ttl": "time ran out",
    "detail.given_up": "given up by {by}",
    "detail.unsendable": "cannot be sent ({error})",
    "detail.delivered_late": "delivered late",
    "detail.handed_over": "handed over to {to}",
    "detail.custody_expired": "expired",
    "notice.to_box": "post {to}",
    "notice.to_all": "all posts",
    "notice.delivered_late": "Message {seq} to post {to} was DELIVERED after all (after the EXPIRED notice); "
                             "do not send it again.",
    "notice.clone_suspected": "Post {box} sent two different frames with the same counter {counter}: two copies "
                              "of that box are running (cloned SD card or restored backup). Check the box; revoke "
                              "it if it was stolen or cloned.",
    "notice.clone_suspected.sync": "Post {box} sees frame counters of this box that we never sent: possibly a "
                                   "cloned SD card. Warn the administrator.",
    "notice.roster_newer": "Post {box} reports roster version {version}; this box has version {mine}. A box may "
                           "have been revoked: ask the GCT to broadcast the change again or import the new "
                           "roster (nspgw roster import).",
    "notice.seq_conflict": "Post {box} reuses message number {seq} for another message (restored backup?). That "
                           "message was not delivered; ask the sender to send it again.",
    "notice.counter_resync": "Counters adjusted after a report from {box} (box restored from a backup?)",
    "sim.internal_error": "internal error in the drill at t={t:.0f} s on box {box}: {cause} (state: {state}). "
                          "This is a defect in nspgw, not in the scenario; report it with this scenario and seed.",
    "accepted": "Message {id} accepted ({priority}) for {to}. It is kept until delivered.",
    "daemon_down_hint": "Note: the nspgw service is not running; the message waits until it starts.",
    "unknown_recipient": "unknown recipient {to!r}; known are: {known}",
    "empty_text": "the message is empty",
    "file_and_text": "give a text or --file, not both",
    "file_unreadable": "cannot read file {path}: {reason}",
    "file_not_utf8": "the text is not valid UTF-8 (unreadable character at position {pos}); save the file as UTF-8",
    "text_too_long": "the message is too long ({n} characters; at most {max})",
    "bad_priority": "invalid priority {value!r}; choose flash, immediate, priority or routine",
    "bad_ttl": "invalid time to live {value!r}; use e.g. 30m, 6h or 2d",
    "no_messages": "No messages.",
    "not_found": "message {id} not found",
    "state.accepted": "accepted",
    "state.queued": "queued",
    "state.in_flight": "in flight",
    "state.held_by_relay": "held by coordination point",
    "state.delivered": "delivered",
    "state.expired": "expired",
    "via.ip": "via IP",
    "via.radio": "via radio",
    "prio.flash": "FLASH",
    "prio.immediate": "IMMEDIATE",
    "prio.priority": "PRIORITY",
    "prio.routine": "ROUTINE",
    # technician commands (init, keys, roster, selftest)
    "tech.bad_role": "unknown role {role!r}; choose nsp, cp or gct",
    "tech.nsp_needs_parent": "an NSP needs a coordination point: give --parent NAME-OF-THE-CP",
    "tech.parent_only_nsp": "--parent applies to an NSP only",
    "tech.config_exists": "configuration {path} already exists; nothing changed. Edit the file, or use --force "
                          "for a new box (NEW keys; enrol again)",
    "tech.keys_exist": "{dir} already holds this box's keys; nothing changed. --force makes new keys (the old "
                       "ones are kept) and the box must be enrolled again",
    "tech.keys_retired": "NOTE: old keys (fingerprint {fp}) moved to {dir}. Have the old box revoked "
                         "(nspgw roster revoke) and enrol this box again.",
    "tech.init_done": "Configuration written: {path} (box {name}, role {role}).",
    "tech.fingerprint": "Fingerprint of this box: {fp}",
    "tech.request_written": "Enrolment request: {path} — take it to the network authority (nspgw roster add).",
    "tech.cannot_write": "cannot write in {path} ({why}); run as root (sudo)?",
    "tech.node_from_radio": "Radio node id read from the radio: {node} (included in the request).",
    "tech.node_id_hint": "Radio node id not known yet: give it to `nspgw roster add --node-id` "
                         "(`nspgw radio detect` shows it).",
    "tech.imported_bundle": "Enrolled: address {addr}, roster version {version}, network key {epoch}. "
                            "Network authority: {afp}. Restart the service if it runs.",
    "tech.imported_roster": "Roster version {version} installed. Restart the service if it runs.",
    "tech.roster_unchanged": "Roster version {version} was already installed; nothing changed.",
    "tech.authority_created": "Network authority for network {network} created in {dir}.\nFingerprint: {fp}\n"
                              "Write it down and keep the directory offline, in two copies.",
    "tech.added": "Added to the draft: {name} ({role}) address {addr}, radio {node}. Fingerprint {fp} — compare "
                  "with what the box showed. Next: nspgw roster sign",
    "tech.revoked": "{name} (address {addr}) revoked in the draft. Next: nspgw roster sign",
    "tech.signed": "Roster version {version} signed ({n} boxes).",
    "tech.delta_written": "Signed roster change (one radio frame): {path}. On the GCT box: "
                          "nspgw roster broadcast {path}",
    "tech.broadcast": "Roster version {version} adopted and being broadcast to every box.",
    "tech.key_rotated": "New network key (epoch {epoch}) being sent to {n} boxes, sealed to each; revoked boxes "
                        "do not get it.",
    "tech.daemon_refused": "the service refused: {why}",
    "tech.rotated": "Network key renewed (epoch {epoch}) because a box was revoked: give every box a new "
                    "bundle (nspgw roster bundle NAME) or let the GCT box distribute the key.",
    "tech.bundled": "Bundle for {name} (address {addr}): {path}. On the box: nspgw roster import {path}",
    "selftest.ok": "ok",
    "selftest.warn": "WARNING",
    "selftest.fail": "FAILED",
    "selftest.skip": "not tested",
    "selftest.summary_ok": "All checks passed.",
    "selftest.summary_fail": "{n} check(s) failed.",
    # operator commands (daemon helper)
    "broadcast_gct_only": "only the municipal crisis team (GCT) can send a bulletin to all posts",
    "bad_form": "unknown form {value!r}; choose {known}",
    "form_and_text": "give a form (--form) or a text, not both",
    "bad_field": "invalid field {value!r}; use --veld key=value",
    "form_needs_fields": "give the fields with --veld key=value (or run the command in a terminal)",
    "field_without_form": "--veld needs --form",
    "read_header": "Message {id} from {sender}, received {received}, {priority}, {via}",
    "no_peers": "No other boxes heard yet.",
    "presence.online": "broker: online (reported {ago} ago)",
    "presence.offline": "broker: OFFLINE (reported {ago} ago)",
    "heard_ago": "heard {ago} ago",
    "status_running": "Service running on {box} (pid {pid}).",
    "status_not_running": "Service NOT running on {box}: {why}. Messages wait in the queue.",
    "status_radio": "Radio: {state} — {detail}",
    "status_ip": "IP link (MQTT): {state} — {detail}",
    "status_queue": "Queue: {n} message(s) ({parts}); held for others: {custody}",
    "status_airtime": "Airtime this hour: {used:.1f} s used, {left:.1f} s left (limit {limit:.0f} s)",
    "status_peers": "Boxes heard: {n} (details: nspgw peers)",
    "status_backlog_none": "Radio backlog: none",
    "status_backlog_control": "Radio backlog: no messages ({frames} control frame(s) waiting: receipts, beacons)",
    "status_backlog": "Radio backlog:",
    "status_backlog_line": "  {prio:<9} {n} message(s), {frames} frame(s), {air:.0f} s airtime; sent {when}",
    "backlog_within": "within ~{delay}",
    "backlog_unknown": "unknown (radio not available)",
    "backlog_duty": " — waiting for airtime (duty cycle)",
    "status_backlog_hint": "  Airtime used up: FLASH and IMMEDIATE go first; ROUTINE waits (never dropped, "
                           "reported if it expires). Hold routine messages or make them shorter.",
    "outbox_eta": "expected on air ~{at}",
    "outbox_eta_duty": "waiting for airtime, expected ~{at}",
    "outbox_eta_unknown": "waiting for the radio",
    "outbox_eta_expires": "waiting for airtime, likely to expire first (expected ~{at})",
    "backlog_expiring": "; {n} expected to expire before sending",
    "radio.connected": "connected",
    "radio.connecting": "connecting…",
    "radio.misconfigured": "MISCONFIGURED, not transmitting",
    "radio.disconnected": "not connected",
    "radio.disabled": "disabled",
    "radio.stopped": "stopped",
    "radio.auth_failed": "login refused",
    "radio.tls_error": "TLS error",
    "radio.None": "unknown",
    "ping_ok": "Reply from {name}: {rtt:.1f} s round trip {via}",
    "ping_signal": " (SNR {snr:.1f} dB, RSSI {rssi} dBm)",
    "ping_failed": "no reply from {name}: {why}",
    "service_bad_user": "invalid user name {user!r}",
    "service_no_unit_dir": "directory {dir} does not exist",
    "service_write_failed": "cannot write {path}: {why} (run as root?)",
    "service_installed": (
        "Unit file written: {path}\n"
        "Next steps (as root):\n"
        "  1. create the system user once:\n"
        "     useradd --system --home-dir /var/lib/nspgw --shell /usr/sbin/nologin --groups dialout {user}\n"
        "  2. systemctl daemon-reload && systemctl enable --now nspgw\n"
        "  3. check: nspgw status   (log: journalctl -u nspgw)"),
}

# `nspgw radio …` (technician): detect, provision, verify
NL.update({
    "radio.no_ports": "Geen seriële poorten die op een Meshtastic-radio lijken.",
    "radio.unreachable": "niet bereikbaar",
    "radio.col_target": "Radio", "radio.col_node": "Node", "radio.col_name": "Naam", "radio.col_hw": "Hardware",
    "radio.col_fw": "Firmware", "radio.col_region": "Regio", "radio.col_preset": "Preset",
    "radio.col_channel": "nspgw-kanaal", "radio.col_configured_preset": "Preset volgens nspgw.toml",
    "radio.col_field": "Veld", "radio.col_expected": "Verwacht", "radio.col_actual": "Radio",
    "radio.col_result": "Uitslag", "radio.ok": "goed", "radio.bad": "AFWIJKEND",
    "radio.verify_ok": "Radio {node} voldoet aan profiel {profile} ({n} velden gecontroleerd).",
    "radio.verify_bad": "radio wijkt af van profiel {profile}: {fields}",
    "radio.provisioned": "Profiel {profile} (preset {preset}) toegepast op {node} ({target}). "
                         "Controleer met `nspgw radio verify`.",
    "radio.no_psk": "geen kanaalsleutel: geef --psk-file (of --config met keys/radio-channel.psk in de statusmap)",
    "radio.no_profile": "geen profiel: geef --profile nsp|nsp-leaf|cp|gct|repeater (of --config)",
})
EN.update({
    "radio.no_ports": "No serial ports that look like a Meshtastic radio.",
    "radio.unreachable": "unreachable",
    "radio.col_target": "Radio", "radio.col_node": "Node", "radio.col_name": "Name", "radio.col_hw": "Hardware",
    "radio.col_fw": "Firmware", "radio.col_region": "Region", "radio.col_preset": "Preset",
    "radio.col_channel": "nspgw channel", "radio.col_configured_preset": "Preset in nspgw.toml",
    "radio.col_field": "Field", "radio.col_expected": "Expected", "radio.col_actual": "Radio",
    "radio.col_result": "Result", "radio.ok": "ok", "radio.bad": "DIFFERS",
    "radio.verify_ok": "Radio {node} matches profile {profile} ({n} fields checked).",
    "radio.verify_bad": "radio differs from profile {profile}: {fields}",
    "radio.provisioned": "Profile {profile} (preset {preset}) applied to {node} ({target}). "
                         "Check with `nspgw radio verify`.",
    "radio.no_psk": "no channel key: give --psk-file (or --config with keys/radio-channel.psk in the state dir)",
    "radio.no_profile": "no profile: give --profile nsp|nsp-leaf|cp|gct|repeater (or --config)",
})

CATALOGUES = {"nl": NL, "en": EN}


def default_lang() -> str:
    """Dutch unless `NSPGW_LANG` or the locale says English."""
    for var in ("NSPGW_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var, "")
        if value:
            return "en" if value.lower().startswith("en") else "nl"
    return "nl"


def t(key: str, lang: str = "nl", **fields: object) -> str:
    text = CATALOGUES.get(lang, NL).get(key) or NL[key]
    return text.format(**fields) if fields else text


def notice_text(notice: Notice, lang: str | None = None) -> str:
    """The operator's sentence for a core notice (`lang` None: the operator's language, `default_lang`)."""
    lang = lang or default_lang()
    params: dict[str, object] = dict(notice.params)
    key = f"notice.{notice.kind.value}" + (f".{notice.variant}" if notice.variant else "")
    if notice.kind == "expired":
        to = params.get("to")
        params["who"] = t("notice.to_box", lang, to=to) if to else t("notice.to_all", lang)
        reason = params.pop("reason", None)
        if reason:
            params["detail"] = t(f"detail.{reason}", lang, **params)
            key += ".detail"
    return t(key, lang, **params)


def detail_text(detail: Detail | str, lang: str | None = None) -> str:
    """The words for why a message or held frame ended as it did (a plain string passes unchanged)."""
    if isinstance(detail, str):
        return detail
    return t(f"detail.{detail.kind.value}", lang or default_lang(), **detail.params)
