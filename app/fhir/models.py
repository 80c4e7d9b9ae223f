"""The one import site of ``fhir.resources``: R4B models used to validate what we read and write.

fhir.resources 8.x has no R4 (4.0.1) package; its R4B models are field-for-field equal to R4 for
every resource this server handles (ImagingStudy, DocumentReference, Patient, Endpoint, Binary,
Bundle, CapabilityStatement, OperationOutcome), while the top-level package is R5 and would be
silently wrong. The models check structure and data types but not code-value bindings or
required primitive elements, so ``validate`` adds those two checks from the models' own metadata.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import pydantic
from fhir.resources.R4B.binary import Binary
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.documentreference import DocumentReference
from fhir.resources.R4B.endpoint import Endpoint
from fhir.resources.R4B.imagingstudy import ImagingStudy
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.patient import Patient
from fhir_core.fhirabstractmodel import FHIRAbstractModel

MODELS: dict[str, type[FHIRAbstractModel]] = {
    cls.__name__: cls
    for cls in (
        Binary,
        Bundle,
        CapabilityStatement,
        DocumentReference,
        Endpoint,
        ImagingStudy,
        OperationOutcome,
        Patient,
    )
}


class InvalidResource(ValueError):
    """A resource failed validation; ``problems`` are FHIRPath-like locations with reasons."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def validate(data: dict[str, Any]) -> FHIRAbstractModel:
    """Parse ``data`` as the resource its ``resourceType`` names, strictly.

    Raises ``InvalidResource`` for an unknown type, a structural or data type error, a code
    outside its required value set, or a missing required primitive element.
    """
    rtype = data.get("resourceType")
    cls = MODELS.get(rtype) if isinstance(rtype, str) else None
    if cls is None:
        raise InvalidResource([f"resourceType {rtype!r} is not one this server handles"])
    try:
        model = cls.model_validate(data)
    except RecursionError:
        raise InvalidResource([f"{rtype}: nested too deeply"]) from None
    except pydantic.ValidationError as exc:
        raise InvalidResource([_describe(rtype, e) for e in exc.errors()[:20]]) from None
    problems: list[str] = []
    try:
        _check(model, str(rtype), problems)
    except RecursionError:
        raise InvalidResource([f"{rtype}: nested too deeply"]) from None
    if problems:
        raise InvalidResource(problems)
    return model


def _describe(rtype: object, error: Any) -> str:
    path = ".".join(str(p) for p in (rtype, *error.get("loc", ())))
    return f"{path}: {error.get('msg', 'invalid')}"


def _check(model: FHIRAbstractModel, path: str, problems: list[str]) -> None:
    for name, info in type(model).model_fields.items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        value = getattr(model, name, None)
        where = f"{path}.{info.alias or name}"
        allowed: Any = extra.get("enum_values")
        if allowed and isinstance(value, str) and value not in allowed:
            problems.append(f"{where}: {value!r} is not one of {', '.join(allowed)}")
        if extra.get("element_required") and value in (None, "", []):
            problems.append(f"{where}: is required")
        items = value if isinstance(value, list) else [value]
        for i, item in enumerate(items):
            if isinstance(item, FHIRAbstractModel):
                child = f"{where}[{i}]" if isinstance(value, list) else where
                _check(item, child, problems)


@cache
def element_names(resource_type: str) -> frozenset[str]:
    """Top-level element names of a resource type, as they appear in JSON."""
    cls = MODELS[resource_type]
    return frozenset(
        (info.alias or name)
        for name, info in cls.model_fields.items()
        if not name.endswith("__ext") and name != "fhir_comments"
    ) | {"resourceType"}


@cache
def required_elements(resource_type: str) -> frozenset[str]:
    """Top-level elements a server returns even when ``_elements`` leaves them out."""
    cls = MODELS[resource_type]
    return frozenset(
        (info.alias or name)
        for name, info in cls.model_fields.items()
        if isinstance(info.json_schema_extra, dict)
        and info.json_schema_extra.get("element_required")
    ) | {"resourceType", "id", "meta"}
