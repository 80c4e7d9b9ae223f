"""DICOMweb (PS3.18) HTTP layer over the archive."""

from app.dicomweb.router import router

__all__ = ["router"]
