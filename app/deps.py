"""FastAPI dependency aliases: the only place routes reach shared state."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.archive.service import Archive
from app.config import Settings


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_archive(request: Request) -> Archive:
    archive: Archive = request.app.state.archive
    return archive


SettingsDep = Annotated[Settings, Depends(get_settings)]
ArchiveDep = Annotated[Archive, Depends(get_archive)]
