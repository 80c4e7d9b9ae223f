"""What a running TestScript knows: fixtures, exchanges by id, server-side ids of fixtures."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from conformance.exchange import Content, Exchange

__all__ = ["State"]


@dataclass
class State:
    """Fixture ids name static fixtures, ``responseId``s and ``requestId``s alike (R4 TestScript
    "fixture id (maybe new) to map to the response/request")."""

    fixtures: dict[str, Content] = field(default_factory=dict)
    responses: dict[str, Exchange] = field(default_factory=dict)
    requests: dict[str, Exchange] = field(default_factory=dict)
    last: Exchange | None = None
    #: Logical id (and version) on the server of a fixture that was created or read.
    server_ids: dict[str, str] = field(default_factory=dict)
    server_versions: dict[str, str] = field(default_factory=dict)

    def known(self, fixture_id: str) -> bool:
        return (
            fixture_id in self.fixtures
            or fixture_id in self.responses
            or (fixture_id in self.requests)
        )

    def exchange(self, source_id: str | None) -> Exchange | None:
        """The exchange a ``sourceId`` names (its response or request id), else the last."""
        if source_id is None:
            return self.last
        return self.responses.get(source_id) or self.requests.get(source_id)

    def content(self, source_id: str | None, direction: str = "response") -> Content | None:
        """The body a ``sourceId`` names, for the assert's direction; None when it is unknown."""
        if direction == "request":
            exchange = self.requests.get(source_id or "") if source_id else self.last
            if exchange is None and source_id in self.responses:
                exchange = self.responses[source_id]
            if exchange is not None:
                return exchange.request.body or Content()
            return self.fixtures.get(source_id or "")
        if source_id is None:
            return self.last.response.body if self.last else None
        if source_id in self.responses:
            return self.responses[source_id].response.body
        return self.fixtures.get(source_id)

    def resource(self, source_id: str | None) -> dict[str, Any] | None:
        content = self.content(source_id)
        return content.resource if content else None

    def server_id(self, fixture_id: str) -> str | None:
        """A fixture's id on the server: assigned by a create, else its own ``id``."""
        if fixture_id in self.server_ids:
            return self.server_ids[fixture_id]
        resource = self.resource(fixture_id)
        value = resource.get("id") if resource else None
        return str(value) if value else None
