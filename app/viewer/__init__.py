"""The OHIF viewer at ``/viewer``: its built files (npm ``@ohif/app``) and our app-config.js."""

from app.viewer.routes import router

__all__ = ["router"]
