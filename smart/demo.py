"""Ready-made accounts and a viewer app for ``imageshare serve --demo`` (never otherwise).

The first demo patient gets a known username and password so the demo works at once; the others
get a fresh one-time access code on every start, to try the claim flow. All of it is printed
to the console by the caller, never logged.
"""

from __future__ import annotations

from dataclasses import dataclass

from smart import accounts, clients
from smart.server import SmartServer

DEMO_USERNAME = "jane"
DEMO_PASSWORD = "demo-password"
DEMO_CLIENT_ID = "demo-viewer"
DEMO_SCOPE = (
    "launch launch/patient launch/imagingstudy openid fhirUser offline_access online_access "
    "patient/*.read patient/*.rs patient/ImagingStudy.rs patient/DocumentReference.rs"
)


@dataclass(frozen=True)
class DemoAccess:
    lines: list[str]


def setup(server: SmartServer, patients: list[tuple[str, str, str]]) -> DemoAccess:
    """Enrol ``patients`` ((id, issuer, birth date) each); the first gets the known password."""
    base = server.config.base_url
    lines = ["", "=== Image Share demo access (demo only) ==="]
    for n, (pid, issuer, birth) in enumerate(patients):
        enrolled = accounts.enrol(server.engine, pid, issuer, birth)
        if n == 0:
            accounts.set_password(server.engine, enrolled.user_id, DEMO_USERNAME, DEMO_PASSWORD)
            lines.append(
                f"Patient {pid}: sign in at {base}/portal/apps as "
                f"'{DEMO_USERNAME}' / '{DEMO_PASSWORD}'"
            )
        else:
            lines.append(
                f"Patient {pid}: claim an account at {base}/oauth/claim with access code "
                f"{enrolled.access_code} and birth date {birth}"
            )
    if clients.get(server.engine, DEMO_CLIENT_ID) is None:
        clients.register(
            server.engine,
            "Image Share demo viewer",
            scope=DEMO_SCOPE,
            redirect_uris=[f"{base}/viewer/callback", "http://localhost:3000/callback"],
            launch_uri=f"{base}/viewer/launch",
            client_id=DEMO_CLIENT_ID,
            agent="demo",
        )
    lines.append(
        f"Public SMART app '{DEMO_CLIENT_ID}' (PKCE): redirect {base}/viewer/callback; "
        f"discovery {base}/fhir/.well-known/smart-configuration"
    )
    lines.append("=" * 43)
    return DemoAccess(lines)
