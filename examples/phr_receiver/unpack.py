"""Open an Image Share PHR package: decrypt every file, check every hash, store the result.

Used for both push (files arrive as parts of one request) and pull (files are embedded in the
manifest or fetched from their ``location``). The result is written to a staging folder and
only renamed to ``<store>/<package id>/`` once every file has been decrypted and verified, so a
broken, tampered or interrupted package leaves nothing behind, and a package whose id is already
stored is recognised as a repeat.

Layout of a stored package::

    <id>/manifest.json       the manifest as received
    <id>/bundle.json         the FHIR Bundle (Patient, ImagingStudy, DocumentReference, Endpoint)
    <id>/reports/NNN.<ext>   each report attachment
    <id>/dicom/NNNNN.dcm     each DICOM instance, byte-identical to the sender's archive
    <id>/received.json       what was stored, with hashes
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jwcrypto import jwe, jwk
from jwcrypto.common import JWException

PROFILE = "urn:imageshare:phr-package:1"
#: What this receiver accepts: anything else (RSA1_5, CBC, ``zip``) is refused.
ALLOWED_ALGS = ["ECDH-ES+A256KW", "RSA-OAEP-256", "A256GCM"]


class PackageError(Exception):
    """The package cannot be accepted; the message says why (safe to return to the sender)."""


@dataclass
class _Group:
    count: int
    sha256: str
    size: int
    paths: dict[int, Path] = field(default_factory=dict)


def decrypt(token: bytes | str, keys: jwk.JWKSet) -> tuple[bytes, dict[str, Any]]:
    """Plaintext and protected header of one compact JWE; PackageError if it does not open."""
    try:
        obj = jwe.JWE(algs=ALLOWED_ALGS)
        obj.deserialize(token.decode("ascii") if isinstance(token, bytes) else token, key=keys)
    except (JWException, ValueError, UnicodeDecodeError) as exc:
        raise PackageError(f"a file failed decryption ({type(exc).__name__})") from exc
    header = obj.jose_header
    if header.get("zip") is not None:
        raise PackageError("compressed files are not accepted")
    return obj.payload, header


class Unpacker:
    def __init__(self, store: Path, keys: jwk.JWKSet) -> None:
        self.store = store
        self.keys = keys
        self.staging = store / ".staging" / uuid.uuid4().hex
        self.manifest: dict[str, Any] = {}
        self._done: dict[int, dict[str, Any]] = {}
        self._groups: dict[int, _Group] = {}
        self._counts = {"reports": 0, "dicom": 0}
        self._joined: list[dict[str, Any]] = []

    @property
    def package_id(self) -> str:
        return str(self.manifest.get("id", ""))

    def already_stored(self, package_id: str) -> bool:
        return _safe_id(package_id) and (self.store / package_id).is_dir()

    def start(self, manifest: dict[str, Any]) -> None:
        if manifest.get("profile") != PROFILE:
            raise PackageError("not an Image Share PHR package manifest")
        files = manifest.get("files")
        if not _safe_id(str(manifest.get("id", ""))) or not isinstance(files, list):
            raise PackageError("the manifest needs an id and a files list")
        if not files or not all(isinstance(f, dict) for f in files):
            raise PackageError("the manifest's files must be JSON objects")
        self.manifest = manifest
        self.staging.mkdir(parents=True)
        (self.staging / "manifest.json").write_text(json.dumps(manifest, indent=2))

    def entry(self, index: int) -> dict[str, Any]:
        files = self.manifest["files"]
        if not 0 <= index < len(files):
            raise PackageError(f"no manifest entry {index}")
        entry: dict[str, Any] = files[index]
        return entry

    def add(self, index: int, token: bytes | str) -> None:
        """Decrypt file ``index`` of the manifest, check it and write it to staging."""
        entry = self.entry(index)
        if index in self._done:
            raise PackageError(f"file {index} arrived twice")
        data, header = decrypt(token, self.keys)
        if header.get("cty") != entry.get("contentType"):
            raise PackageError(f"file {index}: cty does not match the manifest")
        if len(data) != entry.get("size") or _sha256(data) != entry.get("sha256"):
            raise PackageError(f"file {index}: SHA-256 or size does not match the manifest")
        path = self._path_for(index, entry)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        stored = {} if "part" in entry else {"file": str(path.relative_to(self.staging))}
        self._done[index] = {**stored, **_summary(entry)}

    def _path_for(self, index: int, entry: dict[str, Any]) -> Path:
        ctype = str(entry.get("contentType", ""))
        part = entry.get("part")
        if part is not None:
            group = self._groups.setdefault(
                int(part["group"]), _Group(int(part["count"]), part["sha256"], int(part["size"]))
            )
            path = self.staging / "parts" / f"{part['group']}.{part['index']}"
            group.paths[int(part["index"])] = path
            return path
        if ctype == "application/dicom":
            self._counts["dicom"] += 1
            return self.staging / "dicom" / f"{self._counts['dicom']:05d}.dcm"
        if ctype == "application/fhir+json" and "reference" not in entry:
            return self.staging / "bundle.json"
        self._counts["reports"] += 1
        ext = mimetypes.guess_extension(ctype) or ".bin"
        return self.staging / "reports" / f"{self._counts['reports']:03d}{ext}"

    def finish(self) -> Path:
        """Check completeness, join split instances, then store atomically; the stored folder."""
        missing = [i for i in range(len(self.manifest["files"])) if i not in self._done]
        if missing:
            raise PackageError(f"{len(missing)} file(s) of the manifest did not arrive")
        for number, group in sorted(self._groups.items()):
            self._join(number, group)
        shutil.rmtree(self.staging / "parts", ignore_errors=True)
        bundle = json.loads((self.staging / "bundle.json").read_bytes())
        if bundle.get("resourceType") != "Bundle":
            raise PackageError("the package has no FHIR Bundle")
        files = [self._done[i] for i in sorted(self._done)]
        summary = {"id": self.package_id, "files": files, "joined": self._joined}
        (self.staging / "received.json").write_text(json.dumps(summary, indent=2))
        target = self.store / self.package_id
        try:
            os.rename(self.staging, target)
        except OSError as exc:
            if target.is_dir():
                raise Duplicate(self.package_id) from exc
            raise
        return target

    def _join(self, number: int, group: _Group) -> None:
        if sorted(group.paths) != list(range(group.count)):
            raise PackageError(f"split instance {number} is missing parts")
        self._counts["dicom"] += 1
        target = self.staging / "dicom" / f"{self._counts['dicom']:05d}.dcm"
        target.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        with open(target, "wb") as out:
            for i in range(group.count):
                data = group.paths[i].read_bytes()
                digest.update(data)
                out.write(data)
                group.paths[i].unlink()
        if digest.hexdigest() != group.sha256 or target.stat().st_size != group.size:
            raise PackageError(f"split instance {number}: SHA-256 of the joined parts differs")
        self._joined.append(
            {
                "file": str(target.relative_to(self.staging)),
                "sha256": group.sha256,
                "parts": group.count,
            }
        )

    def discard(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)


class Duplicate(Exception):
    """A package with this id is already stored (a repeated delivery)."""


def _summary(entry: dict[str, Any]) -> dict[str, Any]:
    keep = ("contentType", "sha256", "size", "reference", "part")
    return {k: entry[k] for k in keep if k in entry}


def _safe_id(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
