"""Find and load TestScripts (FHIR JSON or XML) and their static fixtures.

A static fixture's ``resource.reference`` is resolved as: ``#id`` → a contained resource; an
``http(s)`` URL → fetched; otherwise a file relative to the script's folder, tried as given,
then with ``.json``/``.xml``, then ``Type/id`` as ``type-id.json``/``.xml`` (the file naming
of the FHIR specification's examples, which HL7 scripts reference as ``Patient/example``).
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from conformance import fhirmodels
from conformance.exchange import Content, parse_body

logger = logging.getLogger(__name__)

__all__ = ["Script", "ScriptError", "discover", "load_resource_file", "load_script"]


class ScriptError(ValueError):
    """A file that is not a loadable, valid R4 TestScript."""


@dataclass
class Script:
    path: Path
    data: dict[str, Any]
    fixtures: dict[str, Content] = field(default_factory=dict)
    #: Fixtures that could not be loaded, with the reason (actions using them are skipped).
    fixture_problems: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.data.get("name") or self.data.get("id") or self.path.stem)


def _is_testscript(path: Path) -> bool:
    try:
        head = path.read_bytes()[:4096]
    except OSError:
        return False
    if path.suffix == ".xml":
        return re.search(rb"<TestScript[\s>]", head) is not None
    return re.search(rb'"resourceType"\s*:\s*"TestScript"', head) is not None


def discover(paths: list[Path]) -> list[Path]:
    """TestScript files among the given files and folders (searched recursively)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            candidates = sorted(p for p in path.rglob("*") if p.suffix in (".json", ".xml"))
            found.extend(p for p in candidates if _is_testscript(p))
        elif path.is_file():
            found.append(path)
        else:
            raise ScriptError(f"{path}: no such file or folder")
    return found


def load_resource_file(path: Path) -> dict[str, Any]:
    """A FHIR resource from a JSON or XML file (XML is converted through the R4B models)."""
    data = path.read_bytes()
    if path.suffix == ".xml" or data.lstrip()[:1] == b"<":
        return fhirmodels.resource_from_xml(data)
    try:
        resource = json.loads(data)
    except ValueError as exc:
        raise fhirmodels.ModelError(f"not JSON: {exc}") from exc
    if not isinstance(resource, dict) or "resourceType" not in resource:
        raise fhirmodels.ModelError("not a FHIR resource (no resourceType)")
    return resource


def load_script(path: Path) -> Script:
    """Parse and validate a TestScript, then load its static fixtures."""
    try:
        if path.suffix == ".xml":
            data = fhirmodels.testscript_from_xml(path.read_bytes())
        else:
            data = fhirmodels.testscript_from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        raise ScriptError(f"{path}: {exc}") from exc
    script = Script(path, data)
    for fixture in data.get("fixture") or []:
        fid = str(fixture.get("id") or "")
        reference = str((fixture.get("resource") or {}).get("reference") or "")
        if not fid or not reference:
            continue
        try:
            script.fixtures[fid] = _resolve(reference, path.parent, data)
        except (OSError, ValueError, httpx.HTTPError) as exc:
            script.fixture_problems[fid] = f"fixture {fid!r} ({reference}) not loaded: {exc}"
            logger.warning("%s: %s", path.name, script.fixture_problems[fid])
    return script


def _resolve(reference: str, folder: Path, script: dict[str, Any]) -> Content:
    if reference.startswith("#"):
        for contained in script.get("contained") or []:
            if contained.get("id") == reference[1:]:
                return Content.of_resource(contained)
        raise ValueError("no contained resource with that id")
    if reference.startswith(("http://", "https://")):
        reply = httpx.get(reference, headers={"Accept": "application/fhir+json"}, timeout=30)
        reply.raise_for_status()
        content = parse_body(reply.content, reply.headers.get("content-type", ""))
        if content.resource is None:
            raise ValueError("the URL did not return a FHIR resource")
        return content
    for candidate in _candidates(reference, folder):
        if candidate.is_file():
            return Content.of_resource(load_resource_file(candidate))
    raise FileNotFoundError(f"no file for it next to the script ({folder})")


def _candidates(reference: str, folder: Path) -> list[Path]:
    out = [folder / reference, folder / f"{reference}.json", folder / f"{reference}.xml"]
    parts = reference.strip("/").split("/")
    if len(parts) == 2:
        stem = f"{parts[0].lower()}-{parts[1]}"
        out += [folder / f"{stem}.json", folder / f"{stem}.xml"]
    return out
