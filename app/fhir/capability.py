"""``GET /fhir/metadata``: a CapabilityStatement generated from the registry (FHIR R4).

Each resource lists exactly the interactions routed for it and the search parameters,
includes and reverse includes its search really accepts; nothing is written by hand, so the
statement cannot drift from the code. ``rest[0].security`` (the SMART endpoints) comes in
through the ``security`` argument.
"""

from __future__ import annotations

from typing import Any

from app.fhir.registry import REGISTRY
from app.fhir.resource import Context

FHIR_VERSION = "4.0.1"
#: Bump with changes to the served API (CapabilityStatement.date).
STATEMENT_DATE = "2026-11-28"


def _resource(name: str) -> dict[str, Any]:
    resource, interactions = REGISTRY[name]
    out: dict[str, Any] = {"type": name}
    if resource.profile:
        out["supportedProfile"] = [resource.profile]
    out["interaction"] = [{"code": code} for code in interactions]
    out.update(
        versioning="versioned",
        readHistory=False,
        updateCreate=False,
        conditionalCreate=False,
        conditionalRead="not-supported",
        conditionalUpdate=False,
        conditionalDelete="not-supported",
    )
    if "search-type" not in interactions:
        return out
    if resource.includes:
        out["searchInclude"] = sorted(resource.includes)
    if resource.revincludes:
        out["searchRevInclude"] = sorted(resource.revincludes)
    chains = sorted(n for n in resource.params if "." in n)
    params = []
    for p in resource.params.values():
        if "." in p.name:
            continue
        doc = p.description
        chained = [c for c in chains if c.startswith(p.name + ".")]
        if chained:
            doc += f" (chain: {', '.join(chained)})"
        params.append({"name": p.name, "type": p.type.value, "documentation": doc})
    out["searchParam"] = params
    return out


def capability_statement(
    ctx: Context, software_version: str, security: dict[str, Any] | None = None
) -> dict[str, Any]:
    rest: dict[str, Any] = {
        "mode": "server",
        "documentation": (
            "Image Share FHIR API over the imaging archive. Searches page with _count "
            "(max 200) and _offset and support _total, _summary=count, _elements and "
            "Prefer: handling=strict."
        ),
    }
    if security:
        rest["security"] = security
    rest["resource"] = [_resource(name) for name in REGISTRY]
    return {
        "resourceType": "CapabilityStatement",
        "id": "imageshare",
        "name": "ImageShareFHIRServer",
        "title": "Image Share FHIR server",
        "status": "active",
        "experimental": False,
        "date": STATEMENT_DATE,
        "publisher": "Image Share",
        "kind": "instance",
        "software": {"name": "Image Share", "version": software_version},
        "implementation": {"description": "Image Share FHIR R4 API", "url": ctx.fhir},
        "fhirVersion": FHIR_VERSION,
        "format": ["application/fhir+json", "json"],
        "rest": [rest],
    }
