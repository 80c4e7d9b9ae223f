"""Who is asking and what may they see: bearer tokens (issued by ``smart``) to a ``Principal``,
and the ``Compartment`` every archive query is restricted to.

HTTP routes use ``app.access.deps``; services receive a ``Principal`` or its ``compartment``.
"""

from app.access.principal import Principal
from app.access.tokens import principal_for_token

__all__ = ["Principal", "principal_for_token"]
