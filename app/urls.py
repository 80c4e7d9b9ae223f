"""Public URLs, built from the configured base URL and never from the bind address.

Every surface builds links through here, so DICOMweb, FHIR and share links agree.
"""

from __future__ import annotations

DICOMWEB_PREFIX = "/dicomweb"
FHIR_PREFIX = "/fhir"


def dicomweb_base(base_url: str) -> str:
    return f"{base_url}{DICOMWEB_PREFIX}"


def study_path(study: str) -> str:
    return f"{DICOMWEB_PREFIX}/studies/{study}"


def series_path(study: str, series: str) -> str:
    return f"{study_path(study)}/series/{series}"


def instance_path(study: str, series: str, instance: str) -> str:
    return f"{series_path(study, series)}/instances/{instance}"


def fhir_base(base_url: str) -> str:
    return f"{base_url}{FHIR_PREFIX}"
