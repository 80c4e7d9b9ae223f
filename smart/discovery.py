"""``.well-known/smart-configuration`` (SMART App Launch 2.2 §"SMART on FHIR Discovery") and
the OpenID Provider metadata its ``issuer`` points to.

Only capabilities this server actually implements are listed. ``smart-imaging-access`` says the
same patient token that searches ImagingStudy also downloads the images over WADO-RS (Argonaut
SMART Imaging Access).
"""

from __future__ import annotations

from typing import Any

from smart.assertion import ALGORITHMS
from smart.config import SmartConfig
from smart.endpoints import CLIENT_METHODS
from smart.keys import ALG

CAPABILITIES = [
    "launch-ehr",
    "launch-standalone",
    "authorize-post",
    "client-public",
    "client-confidential-symmetric",
    "client-confidential-asymmetric",
    "sso-openid-connect",
    "context-ehr-patient",
    "context-standalone-patient",
    "context-banner",
    "permission-offline",
    "permission-online",
    "permission-patient",
    "permission-v1",
    "permission-v2",
    "smart-imaging-access",
]

SCOPES_SUPPORTED = [
    "openid",
    "fhirUser",
    "launch",
    "launch/patient",
    "launch/imagingstudy",
    "offline_access",
    "online_access",
    "patient/*.read",
    "patient/*.rs",
    "patient/ImagingStudy.read",
    "patient/ImagingStudy.rs",
    "patient/DocumentReference.read",
    "patient/DocumentReference.rs",
    "patient/Patient.read",
    "patient/Patient.rs",
    "patient/Binary.read",
    "patient/Binary.r",
    "system/*.read",
    "system/*.rs",
    "system/ImagingStudy.read",
    "system/ImagingStudy.rs",
    "system/ImagingStudy.cruds",
]


def endpoints(config: SmartConfig) -> dict[str, str]:
    return {
        "authorization_endpoint": config.url("/oauth/authorize"),
        "token_endpoint": config.token_url,
        "introspection_endpoint": config.url("/oauth/introspect"),
        "revocation_endpoint": config.url("/oauth/revoke"),
        "registration_endpoint": config.url("/oauth/register"),
        "management_endpoint": config.url("/portal/apps"),
        "jwks_uri": config.url("/oauth/jwks"),
    }


def smart_configuration(config: SmartConfig) -> dict[str, Any]:
    return {
        "issuer": config.issuer,
        **endpoints(config),
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "response_types_supported": ["code"],
        "token_endpoint_auth_methods_supported": CLIENT_METHODS,
        "token_endpoint_auth_signing_alg_values_supported": list(ALGORITHMS),
        "scopes_supported": SCOPES_SUPPORTED,
        "code_challenge_methods_supported": ["S256"],
        "capabilities": CAPABILITIES,
    }


def openid_configuration(config: SmartConfig) -> dict[str, Any]:
    """OpenID Connect Discovery 1.0 §3 metadata, served at the issuer's well-known URL."""
    return {
        "issuer": config.issuer,
        **endpoints(config),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [ALG],
        "scopes_supported": ["openid", "fhirUser"],
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "fhirUser"],
        "token_endpoint_auth_methods_supported": CLIENT_METHODS,
        "code_challenge_methods_supported": ["S256"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
    }


def security_extension(config: SmartConfig) -> dict[str, Any]:
    """The SMART ``oauth-uris`` extension for CapabilityStatement.rest.security (FHIR layer)."""
    ext = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
    urls = endpoints(config)
    names = {
        "authorize": "authorization_endpoint",
        "token": "token_endpoint",
        "introspect": "introspection_endpoint",
        "revoke": "revocation_endpoint",
        "register": "registration_endpoint",
        "manage": "management_endpoint",
    }
    return {
        "service": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                        "code": "SMART-on-FHIR",
                    }
                ]
            }
        ],
        "extension": [
            {
                "url": ext,
                "extension": [{"url": k, "valueUri": urls[v]} for k, v in names.items()],
            }
        ],
    }
