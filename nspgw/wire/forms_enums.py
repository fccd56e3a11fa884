"""Choices of the forms and their Dutch/English labels.

The integer values are wire codes (docs/content-encoding.md, "Codes"): append-only, never renumbered.
"""

from __future__ import annotations

import enum


class IncidentType(enum.IntEnum):
    BRAND = 0
    MEDISCH = 1
    REANIMATIE = 2
    ONGEVAL = 3
    GEWELD_MISDRIJF = 4
    GASLEK = 5
    WATEROVERLAST = 6
    VERMISSING = 7
    GEVAARLIJKE_STOFFEN = 8
    INSTORTING = 9
    OVERIG = 15


class Condition(enum.IntEnum):
    """Condition of a group of casualties (triage-like, as a layperson can judge it)."""

    OVERLEDEN = 0
    LEVENSBEDREIGEND = 1
    GEWOND = 2
    LICHTGEWOND = 3
    ONBEKEND = 4


class NspStatus(enum.IntEnum):
    OPEN = 0
    BEPERKT = 1
    GESLOTEN = 2


class PowerState(enum.IntEnum):
    NET = 0
    AGGREGAAT = 1
    ACCU = 2
    GEEN = 3


class SupplyLevel(enum.IntEnum):
    VOLDOENDE = 0
    KRAP = 1
    TEKORT = 2
    OP = 3


class Urgency(enum.IntEnum):
    SPOED = 0
    HOOG = 1
    NORMAAL = 2
    LAAG = 3


class ItemKind(enum.IntEnum):
    """Common requested resources (wire code 1..31; code 0 on the wire means a free-text item name)."""

    DRINKWATER = 1
    MAALTIJDEN = 2
    VOEDSEL = 3
    DEKENS = 4
    VELDBEDDEN = 5
    DIESEL = 6
    BENZINE = 7
    AGGREGAAT = 8
    MEDICIJNEN = 9
    VERBANDMIDDELEN = 10
    BABYVOEDING = 11
    LUIERS = 12
    HYGIENE = 13
    ZAKLAMPEN_BATTERIJEN = 14
    VRIJWILLIGERS = 15
    ARTS_VERPLEEGKUNDIGE = 16
    VERVOER = 17
    ZANDZAKKEN = 18
    POMP = 19
    CHEMISCH_TOILET = 20
    VERWARMING = 21


class Unit(enum.IntEnum):
    STUKS = 0
    LITER = 1
    KILO = 2
    PERSONEN = 3
    DOZEN = 4
    PAKKEN = 5
    PALLETS = 6
    PORTIES = 7


# Dutch and English labels for every choice, by enum class and value.
LABELS: dict[type[enum.IntEnum], dict[int, tuple[str, str]]] = {
    IncidentType: {
        IncidentType.BRAND: ("Brand", "Fire"),
        IncidentType.MEDISCH: ("Medisch", "Medical"),
        IncidentType.REANIMATIE: ("Reanimatie", "Cardiac arrest (CPR)"),
        IncidentType.ONGEVAL: ("Ongeval", "Accident"),
        IncidentType.GEWELD_MISDRIJF: ("Geweld/misdrijf", "Violence/crime"),
        IncidentType.GASLEK: ("Gaslek", "Gas leak"),
        IncidentType.WATEROVERLAST: ("Wateroverlast", "Flooding"),
        IncidentType.VERMISSING: ("Vermissing", "Missing person"),
        IncidentType.GEVAARLIJKE_STOFFEN: ("Gevaarlijke stoffen", "Hazardous materials"),
        IncidentType.INSTORTING: ("Instorting", "Collapse"),
        IncidentType.OVERIG: ("Overig", "Other"),
    },
    Condition: {
        Condition.OVERLEDEN: ("overleden", "dead"),
        Condition.LEVENSBEDREIGEND: ("zwaargewond/levensbedreigend", "seriously injured/life-threatening"),
        Condition.GEWOND: ("gewond", "injured"),
        Condition.LICHTGEWOND: ("lichtgewond", "slightly injured"),
        Condition.ONBEKEND: ("toestand onbekend", "condition unknown"),
    },
    NspStatus: {
        NspStatus.OPEN: ("open", "open"),
        NspStatus.BEPERKT: ("beperkt open", "limited"),
        NspStatus.GESLOTEN: ("gesloten", "closed"),
    },
    PowerState: {
        PowerState.NET: ("netstroom", "mains power"),
        PowerState.AGGREGAAT: ("aggregaat", "generator"),
        PowerState.ACCU: ("accu/batterij", "battery"),
        PowerState.GEEN: ("geen stroom", "no power"),
    },
    SupplyLevel: {
        SupplyLevel.VOLDOENDE: ("voldoende", "sufficient"),
        SupplyLevel.KRAP: ("krap", "low"),
        SupplyLevel.TEKORT: ("tekort", "shortage"),
        SupplyLevel.OP: ("op", "none left"),
    },
    Urgency: {
        Urgency.SPOED: ("spoed", "immediate"),
        Urgency.HOOG: ("hoog", "high"),
        Urgency.NORMAAL: ("normaal", "normal"),
        Urgency.LAAG: ("laag", "low"),
    },
    ItemKind: {
        ItemKind.DRINKWATER: ("drinkwater", "drinking water"),
        ItemKind.MAALTIJDEN: ("maaltijden", "meals"),
        ItemKind.VOEDSEL: ("voedsel", "food"),
        ItemKind.DEKENS: ("dekens", "blankets"),
        ItemKind.VELDBEDDEN: ("veldbedden", "camp beds"),
        ItemKind.DIESEL: ("diesel", "diesel"),
        ItemKind.BENZINE: ("benzine", "petrol"),
        ItemKind.AGGREGAAT: ("aggregaat", "generator"),
        ItemKind.MEDICIJNEN: ("medicijnen", "medicines"),
        ItemKind.VERBANDMIDDELEN: ("verbandmiddelen", "dressings"),
        ItemKind.BABYVOEDING: ("babyvoeding", "baby food"),
        ItemKind.LUIERS: ("luiers", "nappies"),
        ItemKind.HYGIENE: ("hygiëneartikelen", "hygiene products"),
        ItemKind.ZAKLAMPEN_BATTERIJEN: ("zaklampen/batterijen", "torches/batteries"),
        ItemKind.VRIJWILLIGERS: ("vrijwilligers", "volunteers"),
        ItemKind.ARTS_VERPLEEGKUNDIGE: ("arts/verpleegkundige", "doctor/nurse"),
        ItemKind.VERVOER: ("vervoer", "transport"),
        ItemKind.ZANDZAKKEN: ("zandzakken", "sandbags"),
        ItemKind.POMP: ("pomp", "pump"),
        ItemKind.CHEMISCH_TOILET: ("chemisch toilet", "chemical toilet"),
        ItemKind.VERWARMING: ("verwarming", "heating"),
    },
    Unit: {
        Unit.STUKS: ("stuks", "pcs"),
        Unit.LITER: ("liter", "litres"),
        Unit.KILO: ("kg", "kg"),
        Unit.PERSONEN: ("personen", "persons"),
        Unit.DOZEN: ("dozen", "boxes"),
        Unit.PAKKEN: ("pakken", "packs"),
        Unit.PALLETS: ("pallets", "pallets"),
        Unit.PORTIES: ("porties", "portions"),
    },
}


def label(value: enum.IntEnum, lang: str = "nl") -> str:
    """The Dutch (default) or English label of a choice."""
    nl, en = LABELS[type(value)][value]
    return en if lang == "en" else nl
