"""The viewer as a SMART app: the pages that run its EHR launch (``/viewer/launch``) and receive
the authorization code (``/viewer/callback``).

OHIF does not speak SMART itself; these two pages do the launch with PKCE in the browser and
hand OHIF the access token through its ``token`` URL parameter (OHIF then sends it as a Bearer
token on every DICOMweb request). The client is a public one, registered with
``{base}/viewer/callback`` as its redirect URI (``--demo`` registers ``demo-viewer``).
"""

from __future__ import annotations

from html import escape
from pathlib import Path

SCRIPT = Path(__file__).parent / "static" / "smart-launch.js"
#: What the viewer needs: the launch context and read access to the patient's imaging.
SCOPE = "launch openid fhirUser patient/ImagingStudy.rs patient/DocumentReference.rs"


def page(client_id: str) -> str:
    """The HTML of both steps; the script tells them apart by the path."""
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        "<title>Opening the viewer</title></head><body>"
        '<main><p id="status" role="status">Opening the viewer…</p></main>'
        f'<script src="/viewer/smart-launch.js" data-client-id="{escape(client_id)}" '
        f'data-scope="{escape(SCOPE)}"></script></body></html>\n'
    )
