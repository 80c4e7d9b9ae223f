"""FHIR R4 HTTP layer: views of the archive index."""
