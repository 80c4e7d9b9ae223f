"""The whole standalone launch in headless Chromium (Debian's ``/usr/bin/chromium``): a person
signs in on the form, unticks a permission on the consent page and is sent back to the app,
which exchanges the code (PKCE) and reads the patient's studies."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from authlib.common.security import generate_token

from tests.conftest import LiveServer
from tests.smart_kit import PATIENT_SCOPE, SmartKit, bearer, query_of

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists() and not os.environ.get("CI"),
        reason="headless Chromium not installed (CI installs it)",
    ),
]


@pytest.fixture(scope="module")
def kit(live_server: LiveServer) -> Iterator[SmartKit]:
    k = SmartKit(live_server)
    yield k
    k.close()


def test_sign_in_consent_and_back_to_the_app(kit: SmartKit, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    who = kit.patient("BRW-1", "1985-03-04")
    redirect = f"{kit.server.url}/healthz"  # a real page on the server stands in for the app
    client_id = kit.public_client(redirect_uris=[redirect])
    oauth = kit.oauth_client(client_id, scope=PATIENT_SCOPE)
    oauth.redirect_uri = redirect
    verifier = generate_token(48)
    url, state = oauth.create_authorization_url(
        kit.authorize_url, code_verifier=verifier, aud=kit.server.fhir
    )
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--headless", "--no-sandbox", "--disable-gpu"],
        )
        try:
            page = browser.new_page()
            page.goto(url)
            assert page.get_by_role("heading", name="Sign in to Image Share").is_visible()
            page.get_by_label("Username").fill(who.username)
            page.get_by_label("Password").fill(who.password)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url("**/oauth/consent?**")
            assert "Test app" in page.get_by_role("heading").first.inner_text()
            page.get_by_label("Keep access after you close the app").uncheck()
            page.screenshot(path=str(tmp_path / "consent.png"))
            page.get_by_role("button", name="Allow").click()
            page.wait_for_url(f"{redirect}?**")
            landed = page.url
        finally:
            browser.close()
    assert query_of(landed)["state"] == state
    token = oauth.fetch_token(
        kit.token_url, authorization_response=landed, code_verifier=verifier, state=state
    )
    assert "offline_access" not in token["scope"].split()
    assert "refresh_token" not in token
    assert httpx.get(f"{kit.server.dicomweb}/studies", headers=bearer(token)).status_code in (
        200,
        204,
    )
