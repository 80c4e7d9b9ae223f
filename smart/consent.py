"""What an app asks for, in plain words, for the consent page (one line per scope).

The scope itself is shown beside the words so nothing is hidden; wildcard scopes say that they
also cover kinds of record added in the future (SMART "Wildcard scopes").
"""

from __future__ import annotations

from dataclasses import dataclass

from smart import scopes

RESOURCES = {
    "ImagingStudy": "your imaging studies and their images",
    "DocumentReference": "your reports and documents",
    "Patient": "your name, birth date and other details",
    "Binary": "files attached to your records",
    "Endpoint": "where your images can be downloaded from",
    "*": "all of your records held here (including kinds added in the future)",
}
VERBS = {"r": "see", "s": "search", "c": "add to", "u": "change", "d": "delete"}
WORDS = {
    "openid": "Know who you are when you sign in",
    "fhirUser": "Know which patient record is yours",
    "profile": "See your account name",
    "offline_access": "Keep access after you close the app, until you revoke it",
    "online_access": "Keep access while you are using the app",
    "launch": "Open the study you chose in the portal",
    "launch/patient": "Know which patient record you chose",
    "launch/imagingstudy": "Know which imaging study you chose",
}


@dataclass(frozen=True)
class ScopeLine:
    scope: str
    text: str


def _clinical_text(c: scopes.ClinicalScope) -> str:
    what = RESOURCES.get(c.resource, f"your {c.resource} records")
    verbs = [VERBS[p] for p in scopes.V2_ORDER if p in c.perms]
    text = " and ".join(verbs).capitalize() + " " + what
    if c.context == "system":
        text += " (for every patient)"
    if c.filters:
        text += " — only " + ", ".join(f"{k} {v}" for k, v in c.filters)
    return text


def describe(scope: str) -> ScopeLine:
    parsed = scopes.validate(scope)
    if parsed is not None:
        return ScopeLine(scope, _clinical_text(parsed))
    if scope.startswith("launch/") and scope not in WORDS:
        return ScopeLine(scope, f"Know which {scope.removeprefix('launch/')} you chose")
    return ScopeLine(scope, WORDS.get(scope, scope))


def lines(scope: str) -> list[ScopeLine]:
    return [describe(s) for s in scopes.split(scope)]
