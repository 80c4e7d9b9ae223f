"""Settings from ``IMAGESHARE_*`` environment variables (pydantic-settings)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything the server reads from its environment, built once per app."""

    model_config = SettingsConfigDict(env_prefix="IMAGESHARE_", extra="ignore")

    data_dir: Path = Path("data")
    database_url: str | None = None
    base_url: str = "http://localhost:8080"
    auth: Literal["on", "off"] = "on"
    demo: bool = False
    cors_origins: list[str] = Field(default_factory=lambda: ["*"])
    #: What to do when a different object arrives under a stored SOP Instance UID.
    stow_overwrite: bool = False
    #: Server-side cap on QIDO results; a larger ``limit`` is cut with a Warning header.
    qido_max_results: int = 1000
    #: Largest binary value inlined in metadata; larger ones become BulkDataURIs.
    bulk_data_threshold: int = 1024
    log_level: str = "INFO"

    @field_validator("base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str) and not value.startswith("["):
            return [v.strip() for v in value.split(",") if v.strip()]
        return value

    @property
    def effective_database_url(self) -> str:
        """The configured database, or an SQLite file in the data folder."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'imageshare.db').resolve()}"

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def tmp_dir(self) -> Path:
        return self.data_dir / "tmp"
