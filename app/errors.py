"""Domain exception types, raised by services and mapped to responses in ``error_handlers``.

No web framework is imported here: services raise these without knowing about HTTP.
"""

from __future__ import annotations


class ImageShareError(Exception):
    """Base of every error whose message is safe to show to the caller."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class NotFound(ImageShareError, LookupError):
    """Unknown resource, or one the caller may not see (indistinguishable on purpose)."""


class Gone(ImageShareError):
    """The resource existed and was deleted."""


class InvalidInput(ImageShareError, ValueError):
    """A malformed request value; ``code`` names the parameter where there is one."""


class Conflict(ImageShareError):
    """The request conflicts with stored state."""


class UnsupportedMediaType(ImageShareError):
    """The request body's media type is not one we accept."""


class NotAcceptable(ImageShareError):
    """No media type or transfer syntax in the Accept header can be produced."""


class PayloadTooLarge(ImageShareError):
    """The request or the result it asks for is too large."""


class Unauthorized(ImageShareError):
    """No valid credentials were presented."""


class Forbidden(ImageShareError):
    """Credentials are valid but lack the scope for this action."""


class Unprocessable(ImageShareError):
    """The request is well formed but its content is invalid (FHIR 422)."""


class ServiceUnavailable(ImageShareError):
    """A dependency (database, storage) cannot be reached."""
