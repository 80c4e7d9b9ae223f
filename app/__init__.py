"""Image Share: patient-controlled radiology image sharing server."""

__all__ = ["__version__"]
__version__ = "0.1.0"
