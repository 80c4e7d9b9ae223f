"""What the authorization server needs to know about its deployment."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

#: (patient id, issuer, birth date) -> FHIR Patient logical id. Supplied by the application,
#: so this package needs no knowledge of where patients are stored.
PatientResolver = Callable[[str, str, str], str]

FHIR_PREFIX = "/fhir"


@dataclass(frozen=True)
class SmartConfig:
    base_url: str
    #: Access tokens from a user's authorization (SMART: at most one hour).
    access_lifetime: int = 3600
    #: Backend Services tokens (SMART: ``expires_in`` at most 300 s, no refresh token).
    backend_lifetime: int = 300
    #: Refresh tokens under ``offline_access`` live until revoked or this long unused.
    offline_lifetime: int = 90 * 24 * 3600
    #: Refresh tokens under ``online_access`` end with the working day.
    online_lifetime: int = 12 * 3600
    #: Authorization codes are single use and short-lived (RFC 6749 §4.1.2: at most 10 min).
    code_lifetime: int = 120
    #: Longest a client assertion may live (SMART Backend Services: ``exp`` at most 5 min).
    assertion_max_lifetime: int = 300
    #: Secure cookies unless the public base is plain http (the local demo and tests).
    secure_cookies: bool = True

    @property
    def issuer(self) -> str:
        return self.base_url

    @property
    def fhir_base(self) -> str:
        return self.base_url + FHIR_PREFIX

    def url(self, path: str) -> str:
        return self.base_url + path

    @property
    def token_url(self) -> str:
        return self.url("/oauth/token")

    def fhir_user(self, patient: str) -> str:
        return f"{self.fhir_base}/Patient/{patient}"
