"""Patient web pages (minimal for now): authorised apps with revoke, "open in app", and
"send to my PHR" with each delivery's state."""

from app.portal.phr import router as phr_router
from app.portal.routes import router

router.include_router(phr_router)

__all__ = ["router"]
