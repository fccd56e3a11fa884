"""docs/configuration.md lists every key of nspgw.toml with its real default, and nothing else."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from nspgw.config import AlertsConfig, ConsoleConfig, MqttConfig, RadioConfig, parse_config

DOC = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"
SECTIONS: dict[str, type[Any]] = {"radio": RadioConfig, "mqtt": MqttConfig, "console": ConsoleConfig,
                                  "alerts": AlertsConfig}
BOX_KEYS = {"name", "role", "network", "state_dir", "parent"}


def _tables() -> dict[str, dict[str, str]]:
    text = DOC.read_text(encoding="utf-8")
    out: dict[str, dict[str, str]] = {}
    for section, body in re.findall(r"^## \[(\w+)\]\n(.*?)(?=^## |\Z)", text, re.S | re.M):
        out[section] = {key: default for key, default in re.findall(r"^\| `(\w+)` \| ([^|]+?) \|", body, re.M)}
    return out


def test_every_section_is_documented() -> None:
    assert set(_tables()) == {"box", *SECTIONS}
    assert set(_tables()["box"]) == BOX_KEYS


@pytest.mark.parametrize("section", sorted(SECTIONS))
def test_every_key_with_its_default(section: str) -> None:
    documented = _tables()[section]
    cls = SECTIONS[section]
    assert set(documented) == set(cls.__dataclass_fields__), section
    defaults = cls()
    for key, shown in documented.items():
        value = getattr(defaults, key)
        if section == "radio" and key == "profile":
            assert shown == "the role"  # the parser fills in the box's role
            continue
        parsed = tomllib.loads(f"v = {shown.strip('`')}")["v"]
        assert parsed == value, (section, key, shown)


def test_the_example_is_a_valid_configuration(tmp_path: Path) -> None:
    example = re.search(r"```toml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert example
    cfg = parse_config(tomllib.loads(example.group(1)), tmp_path / "nspgw.toml")
    assert cfg.console.enabled and cfg.console.port == ConsoleConfig().port and cfg.alerts.on_flash
