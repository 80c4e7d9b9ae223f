"""SMART App Launch 2.2 authorization server (authlib): discovery, authorize with sign-in and
consent, token, introspection, revocation, registration, JWKS, patient accounts and grants.

It knows nothing of DICOM or the archive (an import-linter contract enforces it). The
application supplies a ``PatientResolver`` and reads tokens only through ``smart.tokens``.
"""
