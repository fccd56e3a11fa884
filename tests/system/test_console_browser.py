"""The console in a real headless Chromium on a simulated network of three real daemons (nsp1 — cp1 — gct, virtual
radios at SHORT_TURBO): a volunteer at the NSP sends a noodmelding through the form, the CP's page raises the
alarm, the CP operator takes it, the NSP's page shows "in behandeling" with the operator's name, and the crisis
team's board shows the post's status and its open emergency. Screenshots of each page go to test-artefacts/.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from browser import chromium
from console_client import PASSWORD, Client, add_operator, enable_console
from waiting import wait_for

from nspgw.sim.boxes import configure_radios, provision_chain

pytestmark = pytest.mark.system

NSPGW = str(Path(sys.executable).parent / "nspgw")
PRESET = "SHORT_TURBO"
REPO = Path(__file__).resolve().parents[2]
ARTEFACTS = Path(os.environ.get("NSPGW_TEST_ARTEFACTS", REPO / "test-artefacts")) / "console"
OPERATORS = {"nsp1": "anna", "cp1": "jan-meldkamer", "gct": "lisa"}
ALARM_WITHIN_S = 15.0  # a hop at SHORT_TURBO is tens of milliseconds; the page looks every second


def wait(predicate: Callable[[], Any], timeout_s: float, what: str) -> Any:
    return wait_for(predicate, timeout_s, 0.2, what)  # a browser round trip per poll: not faster than 5/s


@pytest.fixture
def network(sim_mesh: Any, tmp_path: Path, free_port_block: Callable[[int], int]) -> Iterator[dict[str, Any]]:
    sim = sim_mesh("--nodes", "3", "--chain", "--no-pty", "--preset", PRESET)
    radios = [sim.nodes[f"node{i}"] for i in range(3)]
    boxes = provision_chain(tmp_path / "boxes", radios, preset=PRESET)
    configure_radios(boxes)
    base = free_port_block(3)
    ports = {}
    for k, box in enumerate(boxes):
        ports[box.name] = base + k
        enable_console(box, base + k)
        add_operator(box, OPERATORS[box.name])
    procs: dict[str, subprocess.Popen[bytes]] = {}
    logs = {b.name: tmp_path / f"{b.name}.log" for b in boxes}
    for box in sorted(boxes, key=lambda b: b.name != "cp1"):
        with logs[box.name].open("ab") as log:
            procs[box.name] = subprocess.Popen([NSPGW, "run", "--config", str(box.config_path)], stdout=log,
                                               stderr=subprocess.STDOUT, env=dict(os.environ, NSPGW_LANG="nl"))
    for box in boxes:
        wait(lambda b=box: _console_up(ports[b.name]), 30, f"{box.name}'s console")
    yield {"boxes": {b.name: b for b in boxes}, "ports": ports}
    for name, p in procs.items():
        p.send_signal(signal.SIGTERM)
        code = p.wait(30)
        text = logs[name].read_text(errors="replace")
        assert code == 0 and "Traceback" not in text, f"{name} exit {code}:\n{text}"


def _console_up(port: int) -> bool:
    try:
        return Client(port).get("/login")[0] == 200
    except OSError:
        return False


class Page:
    """One operator's browser on one box's console."""

    def __init__(self, driver: Any, port: int, name: str) -> None:
        self.d, self.base, self.name = driver, f"https://127.0.0.1:{port}", name

    def open(self, path: str) -> None:
        self.d.get(self.base + path)

    def css(self, selector: str) -> Any:
        from selenium.webdriver.common.by import By

        return self.d.find_element(By.CSS_SELECTOR, selector)

    def all(self, selector: str) -> list[Any]:
        from selenium.webdriver.common.by import By

        return list(self.d.find_elements(By.CSS_SELECTOR, selector))

    def text(self) -> str:
        return str(self.d.find_element("tag name", "body").text)

    def login(self, operator: str) -> None:
        self.open("/login")
        self.css("input[name=name]").send_keys(operator)
        self.css("input[name=password]").send_keys(PASSWORD)
        self.css("form.login button").click()
        wait(lambda: self.d.current_url.endswith("/inbox"), 20, f"{self.name} logged in")

    def fill(self, values: dict[str, str]) -> None:
        from selenium.webdriver.support.ui import Select

        for name, value in values.items():
            el = self.css(f"[name={name}]")
            if el.tag_name == "select":
                Select(el).select_by_value(value)
            else:
                el.clear()
                el.send_keys(value)

    def shot(self, name: str, full: bool = False) -> Path:
        """A screenshot of the window, or with `full` of the whole page (Chromium's DevTools protocol)."""
        import base64

        ARTEFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTEFACTS / f"{name}.png"
        if not full:
            self.d.save_screenshot(str(path))
            return path
        self.d.execute_script("document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0)")
        size = self.d.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
        shot = self.d.execute_cdp_cmd("Page.captureScreenshot", {
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}})
        path.write_bytes(base64.b64decode(shot["data"]))
        return path


@pytest.fixture
def browsers(tmp_path: Path) -> Iterator[Callable[[str, int, int, int], Page]]:
    drivers: list[Any] = []

    def start(name: str, port: int, width: int, height: int) -> Page:
        d = chromium(tmp_path / f"chromium-{name}", width, height)
        drivers.append(d)
        return Page(d, port, name)

    yield start
    for d in drivers:
        d.quit()


def test_noodmelding_alarm_acknowledgement_and_board(network: dict[str, Any],
                                                     browsers: Callable[[str, int, int, int], Page]) -> None:
    ports = network["ports"]
    nsp = browsers("nsp1", ports["nsp1"], 430, 1100)  # a phone
    cp = browsers("cp1", ports["cp1"], 1280, 900)  # the meldkamer's laptop
    gct = browsers("gct", ports["gct"], 1100, 1000)  # the crisis team's tablet
    nsp.open("/login")
    nsp.shot("01-login")
    for page in (nsp, cp, gct):
        page.login(OPERATORS[page.name])
    assert "Nog geen berichten" in cp.text()

    # The post reports its situation to the crisis team, then a volunteer fills in an emergency report.
    nsp.open("/send?kind=sitrap")
    nsp.fill({"to": "gct", "f_status": "open", "f_visitors": "40", "f_power": "aggregaat", "f_fuel_hours": "12",
              "f_needs": "Veldbedden en dekens"})
    nsp.css("#send-form button[type=submit]").click()
    wait(lambda: "/outbox" in nsp.d.current_url, 10, "sitrap accepted")
    nsp.open("/send?kind=noodmelding")
    nsp.fill({"f_incident": "medisch", "f_address": "Dorpsstraat 12", "wat": "Man onwel geworden in de opvang",
              "gevaar": "Geen", "f_casualties": "1 zwaargewond", "f_callback": "NSP Dorpshuis, portofoon kanaal 3"})
    preview = wait(lambda: "radioframe" in nsp.css("#preview").text and nsp.css("#preview").text, 10, "preview")
    assert "Kost 1 radioframe" in preview
    assert nsp.css("select[name=to]").get_attribute("value") == "cp1"  # the meldkamer first
    nsp.shot("02-nsp-send-noodmelding", full=True)
    nsp.css("#send-form button[type=submit]").click()
    wait(lambda: "/outbox" in nsp.d.current_url, 10, "noodmelding accepted")
    sent_at = time.monotonic()
    assert "geaccepteerd" in nsp.text() and "NOODMELDING" in nsp.text()

    # The CP's inbox, open all along, raises the alarm by itself: full-screen banner and sound.
    banner = wait(lambda: cp.all("#alarm-banner"), ALARM_WITHIN_S, "the alarm at the CP")[0]
    alarm_s = time.monotonic() - sent_at
    assert banner.is_displayed() and "NOODMELDING" in banner.text and "Dorpsstraat 12" in banner.text
    assert "nsp1" in banner.text and "Man onwel" in banner.text
    size = banner.size
    inner = cp.d.execute_script("return [window.innerWidth, window.innerHeight]")
    assert size["width"] >= inner[0] - 20 and size["height"] >= inner[1] - 1  # covers the whole window
    wait(lambda: cp.d.execute_script("return document.body.classList.contains('alarming')"), 5, "alarm sound on")
    cp.shot("03-cp-alarm")
    cp.css("#alarm-banner input[name=note]").send_keys("Ambulance onderweg")
    cp.css("#alarm-banner button[value=in_behandeling]").click()
    wait(lambda: not cp.all("#alarm-banner"), 10, "the banner to go after the acknowledgement")
    assert "In behandeling door jan-meldkamer" in cp.text()
    cp.shot("04-cp-inbox")

    # The NSP's outbox page, open all along, shows who took the report.
    wait(lambda: "In behandeling door jan-meldkamer" in nsp.text(), 30, "the handling status at the NSP")
    assert "Ambulance onderweg" in nsp.text()
    nsp.shot("05-nsp-outbox-in-behandeling")

    # The crisis team's board: the post, its status report and its open emergency.
    gct.open("/board")
    wait(lambda: "NOODMELDING" in gct.css("#post-nsp1").text, 30, "the open emergency on the GCT board")
    row = wait(lambda: "SITRAP" in gct.css("#post-nsp1").text and gct.css("#post-nsp1").text, 30,
               "the status on the GCT board")
    assert "OPEN" in row and "40" in row and "Dorpsstraat 12" not in row
    gct.shot("06-gct-board")
    cp.open("/board")
    cp.shot("07-cp-board")
    cp.open("/health")
    assert "Radio" in cp.text() and "Zendtijd" in cp.text()
    cp.shot("08-cp-health")
    gct.open("/inbox")
    gct.shot("09-gct-inbox")
    # The CP's journaal: the report received, and who took it, with how sure each time is; the export buttons.
    cp.open("/journal")
    log = cp.text()
    assert "Journaal" in log and "Dorpsstraat 12" in log and "jan-meldkamer" in log, log
    assert [b.text for b in cp.all("form.export button")] == ["PDF", "CSV", "JSON"]
    cp.shot("11-cp-journaal", full=True)
    cp.open("/inbox?lang=en")  # English for this operator from now on
    assert "Being handled by jan-meldkamer" in cp.text() and not cp.all("#alarm-banner")
    cp.shot("10-cp-inbox-en")
    cp.open("/board")
    assert "Posts" in cp.text() and "Open reports and requests" in cp.text()
    cp.open("/journal")
    assert "Journal (communications log)" in cp.text() and "Export this period" in cp.text()
    cp.shot("12-cp-journal-en", full=True)
    print(f"alarm at the CP {alarm_s:.1f} s after the NSP's submit")
