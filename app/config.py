"""Settings from ``IMAGESHARE_*`` environment variables (pydantic-settings)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


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
    #: DIMSE SCP (C-ECHO, C-STORE, C-FIND): off unless a port is set (``serve --dimse-port``).
    dimse_port: int | None = None
    dimse_host: str = "127.0.0.1"
    dimse_ae_title: str = "IMAGESHARE"
    #: Calling AE titles allowed to associate; empty accepts any (a warning is logged).
    dimse_allowed_aes: Annotated[list[str], NoDecode] = Field(default_factory=list)
    #: Folder holding the OHIF viewer's built ``dist/`` (``make viewer``); /viewer is off without.
    viewer_dir: Path = Path(".viewer/ohif/package/dist")
    #: The public SMART client the viewer launches as (``--demo`` registers ``demo-viewer``).
    viewer_client_id: str = "demo-viewer"
    #: PHR delivery (docs/phr-package.md): run the outbox worker inside the server (turn off
    #: when ``imageshare worker`` runs it separately).
    phr_worker: bool = True
    #: Hold a push until this many hours after the study's first report (0: send at once).
    phr_release_delay_hours: float = Field(default=0.0, ge=0)
    phr_max_attempts: int = Field(default=12, ge=1)
    #: Backoff after a network error or 5xx: base * 2^(attempt-1), capped, with jitter.
    phr_retry_base_seconds: float = Field(default=30.0, gt=0)
    phr_retry_max_seconds: float = Field(default=3600.0, gt=0)
    #: How long a worker holds a job without renewing its lease (a crashed worker's job is
    #: taken over after this).
    phr_lease_seconds: float = Field(default=60.0, gt=0)
    phr_poll_seconds: float = Field(default=2.0, gt=0)
    #: DICOM instances larger than this travel as several JWE parts (bounded memory).
    phr_part_size: int = Field(default=16 * 1024 * 1024, ge=64 * 1024)
    #: Lifetime of a pull manifest's file locations (SMART Health Links: at most an hour).
    phr_pull_ttl_seconds: int = Field(default=3600, gt=0, le=3600)
    phr_send_timeout_seconds: float = Field(default=300.0, gt=0)
    #: How often a job waiting for its study's report looks again.
    phr_report_poll_seconds: float = Field(default=600.0, gt=0)

    @property
    def phr_spool_dir(self) -> Path:
        """Ciphertext only: encrypted push bodies waiting to be sent."""
        return self.data_dir / "phr-spool"

    @field_validator("base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("dimse_ae_title")
    @classmethod
    def _ae_title(cls, value: str) -> str:
        """AE titles are 1-16 characters of the default repertoire, no backslash (PS3.5)."""
        if not 0 < len(value.strip()) <= 16 or "\\" in value or not value.isascii():
            raise ValueError("an AE title has 1 to 16 ASCII characters and no backslash")
        return value.strip()

    @field_validator("cors_origins", "dimse_allowed_aes", mode="before")
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
