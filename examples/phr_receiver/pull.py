"""The pull side of an example PHR: fetch a study's package with the patient's access token.

``POST {server}/phr/studies/{uid}/manifest`` with the patient's SMART access token (issued to
this PHR's client) answers a manifest whose small files are ``embedded`` and whose DICOM files
have a short-lived ``location``; each is a compact JWE only this PHR's private key opens.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import httpx
from jwcrypto import jwk

from examples.phr_receiver.unpack import Duplicate, PackageError, Unpacker


def pull_study(
    server: str,
    access_token: str,
    study_uid: str,
    keys: jwk.JWKSet,
    store: Path,
    client: httpx.Client | None = None,
) -> Path:
    """Fetch, decrypt, verify and store one study; the stored package folder.

    Raises ``httpx.HTTPStatusError`` when the server refuses (401 no token, 403 not a
    registered PHR, 404 not this patient's study) and ``PackageError`` when a file does not
    decrypt or does not match its hash.
    """
    http = client or httpx.Client(timeout=120)
    try:
        response = http.post(
            f"{server}/phr/studies/{quote(study_uid, safe='')}/manifest",
            headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
        )
        response.raise_for_status()
        unpacker = Unpacker(store, keys)
        try:
            unpacker.start(response.json())
            for i, entry in enumerate(unpacker.manifest["files"]):
                if "embedded" in entry:
                    unpacker.add(i, entry["embedded"])
                    continue
                file = http.get(entry["location"], headers={"Accept": "application/jose"})
                file.raise_for_status()
                if file.headers.get("content-type", "").split(";")[0] != "application/jose":
                    raise PackageError(f"file {i} is not application/jose")
                unpacker.add(i, file.content)
            return unpacker.finish()
        except Duplicate:
            return store / unpacker.package_id
        finally:
            unpacker.discard()
    finally:
        if client is None:
            http.close()
