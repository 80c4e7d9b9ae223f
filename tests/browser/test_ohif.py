"""OHIF (npm @ohif/app, served at /viewer) in headless Chromium against the live server.

Opens demo studies (an uncompressed CT with a PDF report, an RLE-compressed CT), waits until
the viewport canvas shows non-blank pixels, and checks that no request to our server failed.
Needs Debian's ``chromium`` and the viewer build from ``make viewer`` (``make test`` does it).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.demo import demo_studies
from tests.conftest import LiveServer, run_server
from tests.imaging import require_tool

pytestmark = pytest.mark.browser

VIEWER_DIST = Path(__file__).resolve().parents[2] / ".viewer" / "ohif" / "package" / "dist"
LIT_PIXELS = """() => [...document.querySelectorAll('canvas.cornerstone-canvas')].map(c => {
  const ctx = c.getContext('2d');
  if (!ctx || !c.width || !c.height) return 0;
  const d = ctx.getImageData(0, 0, c.width, c.height).data;
  let lit = 0;
  for (let i = 0; i < d.length; i += 4) if (d[i] > 16 || d[i + 1] > 16 || d[i + 2] > 16) lit++;
  return lit;
})"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    if not (VIEWER_DIST / "index.html").is_file():
        require_tool("ohif-viewer-build", str(VIEWER_DIST / "index.html"))
    with run_server(
        tmp_path_factory.mktemp("ohif"), auth="off", demo=True, viewer_dir=VIEWER_DIST
    ) as live:
        yield live


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    chromium = require_tool("chromium", "/usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.mark.parametrize("index", [0, 2], ids=["ct-with-pdf", "ct-rle"])
def test_ohif_draws_a_demo_study(server: LiveServer, browser, index: int) -> None:  # type: ignore[no-untyped-def]
    study = demo_studies()[index].study_uid
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    failures: list[str] = []
    frames: list[str] = []

    def on_response(response) -> None:  # type: ignore[no-untyped-def]
        if response.url.startswith(server.url):
            if response.status >= 400:
                failures.append(f"{response.status} {response.url}")
            if "/frames/" in response.url:
                frames.append(response.url)

    page.on("response", on_response)
    page.on(
        "requestfailed",
        lambda r: r.url.startswith(server.url) and failures.append(f"{r.failure} {r.url}"),
    )
    try:
        page.goto(f"{server.url}/viewer/viewer?StudyInstanceUIDs={study}")
        lit: list[int] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            lit = page.evaluate(LIT_PIXELS)
            if any(n > 1000 for n in lit):
                break
            page.wait_for_timeout(500)
        page.wait_for_load_state("networkidle")
    finally:
        page.close()
    assert any(n > 1000 for n in lit), f"no image drawn on the viewport canvas: {lit}"
    assert frames, "OHIF fetched no frames from /dicomweb"
    assert failures == []


def test_viewer_serves_spa_routes_and_config(server: LiveServer) -> None:
    import httpx

    config = httpx.get(f"{server.url}/viewer/app-config.js")
    assert config.status_code == 200
    assert "routerBasename" in config.text and "'/dicomweb'" in config.text
    spa = httpx.get(f"{server.url}/viewer/viewer?StudyInstanceUIDs=1.2.3")
    assert spa.status_code == 200 and 'window.PUBLIC_URL="/viewer/"' in spa.text
    assert httpx.get(f"{server.url}/viewer/no-such-chunk.js").status_code == 404
    assert httpx.get(f"{server.url}/viewer/%2e%2e/%2e%2e/etc/passwd").status_code == 404
    assert httpx.get(f"{server.url}/viewer", follow_redirects=False).status_code == 307


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The demo as `make run` starts it: authorization on, demo patient and viewer app."""
    if not (VIEWER_DIST / "index.html").is_file():
        require_tool("ohif-viewer-build", str(VIEWER_DIST / "index.html"))
    with run_server(
        tmp_path_factory.mktemp("ohif-auth"), demo=True, viewer_dir=VIEWER_DIST
    ) as live:
        yield live


def test_portal_opens_a_study_in_ohif_with_a_smart_launch(secured: LiveServer, browser) -> None:  # type: ignore[no-untyped-def]
    """Portal sign-in → "Open" on a study → consent → the viewer's SMART launch (PKCE) → OHIF
    draws the study with the patient's token, and every request to the server succeeds."""
    from smart.demo import DEMO_PASSWORD, DEMO_USERNAME

    study = demo_studies()[0].study_uid
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    failures: list[str] = []
    authorised: list[str] = []

    def on_response(response) -> None:  # type: ignore[no-untyped-def]
        if response.url.startswith(f"{secured.url}/dicomweb/"):
            if response.status >= 400:
                failures.append(f"{response.status} {response.url}")
            elif response.request.headers.get("authorization", "").startswith("Bearer "):
                authorised.append(response.url)

    page.on("response", on_response)
    try:
        page.goto(f"{secured.url}/portal/apps")
        page.get_by_label("Username").fill(DEMO_USERNAME)
        page.get_by_label("Password").fill(DEMO_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        row = page.get_by_role("row").filter(has_text="CT chest")
        row.get_by_role("button", name="Open").click()
        page.wait_for_url("**/oauth/consent?**")
        page.get_by_role("button", name="Allow").click()
        page.wait_for_url(f"**/viewer/viewer?**StudyInstanceUIDs={study}**", timeout=30000)
        lit: list[int] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            lit = page.evaluate(LIT_PIXELS)
            if any(n > 1000 for n in lit):
                break
            page.wait_for_timeout(500)
    finally:
        page.close()
    assert any(n > 1000 for n in lit), f"no image drawn on the viewport canvas: {lit}"
    assert any("/frames/" in u for u in authorised), "frames were not fetched with the token"
    assert failures == []


def test_viewer_launch_without_portal_says_why(secured: LiveServer, browser) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page()
    try:
        page.goto(f"{secured.url}/viewer/launch")
        status = page.get_by_role("status")
        status.filter(has_text="Could not open the viewer").wait_for(timeout=10000)
        assert "portal" in status.inner_text()
    finally:
        page.close()
