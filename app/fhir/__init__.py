"""FHIR R4 HTTP layer: views of the archive index (ImagingStudy, Patient, Endpoint) and reports
(DocumentReference, Binary)."""

from app.fhir.router import router

__all__ = ["router"]
