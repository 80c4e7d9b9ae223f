"""Patient web pages (minimal for now): authorised apps with revoke, and "open in app"."""

from app.portal.routes import router

__all__ = ["router"]
