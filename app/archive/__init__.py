"""DICOM storage and index: blob store, ingest, DICOM JSON, query matching, retrieval.

Knows nothing of HTTP, FHIR or OAuth.
"""
