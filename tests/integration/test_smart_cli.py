"""``imageshare patients enroll``, ``clients register``, ``clients initial-token``, ``keys rotate``
and the README's first command (``serve --demo``) with authorization on."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session

from app.db import make_engine
from app.demo import demo_studies
from smart import accounts, clients
from tests.conftest import free_port, fresh_database
from tests.integration.test_cli import _env
from tests.smart_kit import hidden, new_key

IMAGESHARE = [sys.executable, "-m", "app.cli"]


@pytest.fixture
def db(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    with fresh_database(tmp_path) as url:
        yield tmp_path, url


def run(db: tuple[Path, str], *args: str) -> subprocess.CompletedProcess[str]:
    tmp, url = db
    return subprocess.run(
        [*IMAGESHARE, *args], env=_env(tmp, url), capture_output=True, text=True, timeout=120
    )


def test_patients_enroll_prints_a_code_that_claims(db: tuple[Path, str]) -> None:
    r = run(
        db,
        "patients",
        "enroll",
        "--patient-id",
        "CLI-1",
        "--issuer",
        "HOSP",
        "--birth-date",
        "1961-12-24",
    )
    assert r.returncode == 0, r.stderr
    code = re.search(r"access code: ([A-Z2-7]{4}(?:-[A-Z2-7]{4}){7})", r.stdout)
    assert code, r.stdout
    engine = make_engine(db[1])
    try:
        user_id = accounts.claim(engine, code.group(1), "1961-12-24", "cli-user", "long enough pw")
        assert accounts.sign_in(engine, "cli-user", "long enough pw") == user_id
    finally:
        engine.dispose()
    bad = run(db, "patients", "enroll", "--patient-id", "CLI-2", "--birth-date", "24/12/1961")
    assert bad.returncode == 2 and "YYYY-MM-DD" in bad.stderr


def test_clients_register_every_kind(db: tuple[Path, str], tmp_path: Path) -> None:
    public = run(
        db,
        "clients",
        "register",
        "--name",
        "PHR",
        "--redirect-uri",
        "https://phr.example/cb",
        "--scope",
        "launch/patient patient/*.rs",
    )
    assert public.returncode == 0, public.stderr
    assert (
        "token_endpoint_auth_method: none" in public.stdout and "client_secret" not in public.stdout
    )
    secret = run(
        db,
        "clients",
        "register",
        "--name",
        "Web",
        "--redirect-uri",
        "https://web.example/cb",
        "--confidential",
        "--scope",
        "patient/*.rs",
    )
    assert "client_secret: " in secret.stdout and "client_secret_basic" in secret.stdout
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [new_key("RS384").as_dict(private=False)]}))
    backend = run(
        db,
        "clients",
        "register",
        "--name",
        "Site",
        "--jwks",
        str(jwks),
        "--scope",
        "system/ImagingStudy.rs",
    )
    assert (
        "private_key_jwt" in backend.stdout and "grant_types: client_credentials" in backend.stdout
    )
    by_url = run(
        db,
        "clients",
        "register",
        "--name",
        "Vendor",
        "--jwks-uri",
        "https://vendor.example/jwks",
        "--scope",
        "system/*.rs",
    )
    assert by_url.returncode == 0
    for bad in (
        ["--name", "x", "--scope", "patient/*.rs"],  # public without redirect URI
        ["--name", "x", "--jwks", str(jwks), "--scope", "patient/*.rs"],  # backend, patient scope
        ["--name", "x", "--redirect-uri", "not-a-url", "--scope", "patient/*.rs"],
        ["--name", "x", "--redirect-uri", "https://a.example/cb", "--scope", "patient/*.sr"],
    ):
        r = run(db, "clients", "register", *bad)
        assert r.returncode == 2, bad


def test_initial_token_and_key_rotation(db: tuple[Path, str]) -> None:
    r = run(db, "clients", "initial-token", "--hours", "1")
    token = re.search(r"initial access token: (\S+)", r.stdout)
    assert token
    engine = make_engine(db[1])
    try:
        assert clients.use_registration_token(engine, token.group(1))
        assert not clients.use_registration_token(engine, token.group(1))
    finally:
        engine.dispose()
    rotated = run(db, "keys", "rotate")
    assert rotated.returncode == 0 and "now signing with key" in rotated.stdout


def test_demo_with_authorization_on(tmp_path: Path) -> None:
    """``make run`` keeps auth on: the printed demo account signs in and sees its own studies."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with fresh_database(tmp_path) as db_url:
        out = (tmp_path / "out.txt").open("w")
        env = _env(tmp_path, db_url, IMAGESHARE_BASE_URL=url)
        proc = subprocess.Popen(
            [*IMAGESHARE, "serve", "--demo", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while "=====" not in (tmp_path / "out.txt").read_text().split("demo access")[-1]:
                assert time.monotonic() < deadline and proc.poll() is None, (
                    tmp_path / "out.txt"
                ).read_text()
                time.sleep(0.2)
            printed = (tmp_path / "out.txt").read_text()
            _wait_ready(url, proc)
            assert httpx.get(f"{url}/dicomweb/studies").status_code == 401
            user, password = re.search(r"as '(\S+)' / '(\S+)'", printed).groups()  # type: ignore[union-attr]
            assert re.search(r"access code [A-Z2-7]{4}(-[A-Z2-7]{4}){7}", printed)
            token = _demo_sign_in(url, user, password)
            studies = httpx.get(
                f"{url}/dicomweb/studies", headers={"Authorization": f"Bearer {token}"}
            ).json()
            expected = {s.study_uid for s in demo_studies() if s.patient.patient_id == "DEMO-001"}
            assert {s["0020000D"]["Value"][0] for s in studies} == expected
            logged = printed.split("=== Image Share demo access")[0]
            assert password not in logged  # only the demo banner shows it, not the log lines
        finally:
            proc.terminate()
            proc.wait(timeout=20)
            out.close()


def _wait_ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    """The banner comes from start-up, before the socket listens: wait for /readyz too."""
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline and proc.poll() is None, "serve did not start"
        time.sleep(0.1)


def _demo_sign_in(url: str, user: str, password: str) -> str:
    redirect = f"{url}/viewer/callback"
    oauth = OAuth2Session(
        "demo-viewer",
        scope="launch/patient openid fhirUser patient/ImagingStudy.rs",
        redirect_uri=redirect,
        code_challenge_method="S256",
        token_endpoint_auth_method="none",
    )
    verifier = generate_token(48)
    auth_url, state = oauth.create_authorization_url(
        f"{url}/oauth/authorize", code_verifier=verifier, aud=f"{url}/fhir"
    )
    with httpx.Client(base_url=url) as b:
        signin = b.get(b.get(auth_url).headers["location"])
        r = b.post(
            "/oauth/signin",
            data={
                "csrf_token": hidden(signin.text, "csrf_token"),
                "request": hidden(signin.text, "request"),
                "username": user,
                "password": password,
            },
        )
        page = b.get(r.headers["location"])
        scopes = re.findall(r'name="scope" value="([^"]*)"', page.text)
        done = b.post(
            "/oauth/consent",
            data={
                "csrf_token": hidden(page.text, "csrf_token"),
                "request": hidden(page.text, "request"),
                "decision": "allow",
                "scope": scopes,
            },
        )
    token = oauth.fetch_token(
        f"{url}/oauth/token",
        authorization_response=done.headers["location"],
        code_verifier=verifier,
        state=state,
    )
    return str(token["access_token"])
