"""The authorization decision, without HTTP: validate a request, build the launch context a
patient's consent yields, and issue the code redirect (SMART App Launch "Authorize")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from authlib.oauth2.rfc6749 import OAuth2Error
from starlette.responses import Response

from app import audit
from smart import accounts, launch, scopes, store
from smart.clients import OAuthClient
from smart.server import FormRequest, SmartServer


@dataclass
class Checked:
    """A validated authorization request: its client and the scopes it may be granted."""

    client: OAuthClient
    scope: list[str]
    launch: launch.LaunchContext | None


def check(server: SmartServer, oreq: FormRequest) -> Checked:
    """Validate with authlib (client, exact redirect URI, PKCE, aud, launch); raises OAuth2Error."""
    grant = server.get_consent_grant(oreq, end_user=None)
    client: OAuthClient = grant.request.client
    words = scopes.split(grant.request.scope)
    found = None
    if "launch" in words:
        found = launch.find(server.engine, oreq.payload.data.get("launch"), client)
    return Checked(client, words, found)


def _context(
    server: SmartServer, user_id: str, chosen: list[str], found: launch.LaunchContext | None
) -> dict[str, Any]:
    user = accounts.get_user(server.engine, user_id)
    assert user is not None
    ctx: dict[str, Any] = {
        "kind": "patient",
        "patient_identity": [user.patient_id, user.patient_issuer],
    }
    patient_scoped = any(c.context == "patient" for c in scopes.clinical(chosen))
    if patient_scoped or {"launch/patient", "launch", "fhirUser"} & set(chosen):
        ctx["patient"] = server.resolve_patient(
            user.patient_id, user.patient_issuer, user.birth_date
        )
    if found is not None and "launch" in chosen:
        ctx.update(found.context)
    return ctx


def decide(
    server: SmartServer,
    params: dict[str, str],
    user_id: str,
    auth_time: int,
    chosen: list[str] | None,
) -> Response:
    """Answer the app: a code for the ``chosen`` scopes, or ``access_denied`` when ``None``/[]."""
    base = dict(params)
    checked = check(server, request_from(server, base))
    if checked.launch is not None and checked.launch.user_id != user_id:
        raise OAuth2Error("This launch belongs to another account.", error="access_denied")
    granted = [s for s in checked.scope if chosen and s in chosen]
    if not granted:
        oreq = request_from(server, base)
        grant = server.get_consent_grant(oreq, end_user=None)
        audit.record(server.engine, "grant.deny", agent=user_id, entity=checked.client.client_id)
        response: Response = server.create_authorization_response(oreq, None, grant)
        return response
    base["scope"] = " ".join(granted)
    grant_id = store.upsert_grant(server.engine, user_id, checked.client.client_id, base["scope"])
    who = store.Authorizer(
        user_id, grant_id, _context(server, user_id, granted, checked.launch), auth_time
    )
    oreq = request_from(server, base)
    grant = server.get_consent_grant(oreq, end_user=who)
    response = server.create_authorization_response(oreq, who, grant)
    return response


def request_from(server: SmartServer, params: dict[str, str]) -> FormRequest:
    return FormRequest("GET", server.config.url("/oauth/authorize"), {}, list(params.items()), [])
