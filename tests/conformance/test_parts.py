"""The engine's parts on their own: expressions, operators, XML form, minimum content,
profile checks, script loading. No server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conformance import discover, load_script
from conformance.fhirxml import to_xml
from conformance.loader import ScriptError
from conformance.minimum import minimum_content, navigation_links
from conformance.operators import compare
from conformance.paths import ExpressionError, evaluate_fhirpath, evaluate_path
from conformance.profiles import ProfileStore, validate

HERE = Path(__file__).parent
PATIENT = {
    "resourceType": "Patient",
    "id": "p1",
    "identifier": [{"system": "urn:imageshare:test:mrn", "value": "M-1"}],
    "name": [{"family": "Müller", "given": ["Zoë", "Anna"]}],
    "birthDate": "1992-07-30",
    "_birthDate": {"extension": [{"url": "http://e.org/x", "valueString": "approx"}]},
}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("Patient.name.family.replaceMatches('M(ü)ller', 'X$1')", ["Xü"]),
        ("Patient.name.given.first().startsWith('Zo')", [True]),
        ("Patient.name.family.contains('ll')", [True]),
        ("Patient.id.matches('^p[0-9]$')", [True]),
        ("Patient.name.given.count()", [2]),
        ("%resource.identifier.value", ["M-1"]),
        ("Patient.birthDate > @1990-01-01", [True]),
    ],
)
def test_fhirpath(expression: str, expected: list[object]) -> None:
    assert evaluate_fhirpath(expression, PATIENT) == expected


def test_fhirpath_on_dicom_json() -> None:
    """Non-FHIR JSON (DICOM JSON keys start with digits) is navigable with backticks."""
    body = [{"0020000D": {"vr": "UI", "Value": ["1.2.3"]}}, {"0020000D": {"vr": "UI"}}]
    assert evaluate_fhirpath("`0020000D`.Value", body) == ["1.2.3"]
    assert evaluate_fhirpath("count()", body) == [2]


def test_fhirpath_syntax_errors_are_reported() -> None:
    with pytest.raises(ExpressionError, match="not valid"):
        evaluate_fhirpath("Patient.name.(", PATIENT)
    with pytest.raises(ExpressionError):
        evaluate_fhirpath("Patient.id", None)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("Patient/id", ["p1"]),
        ("fhir:Patient/fhir:name/fhir:given/@value", ["Zoë", "Anna"]),
        ("f:Patient/f:name/f:family", ["Müller"]),
        ("count(fhir:Patient/fhir:name/fhir:given)", [2]),
        ("fhir:Patient/fhir:birthDate/fhir:extension/@url", ["http://e.org/x"]),
        ("$.name[0].given[1]", ["Anna"]),
        ("$.identifier[?system == 'urn:imageshare:test:mrn'].value", ["M-1"]),
    ],
)
def test_paths(path: str, expected: list[object]) -> None:
    assert evaluate_path(path, PATIENT) == expected


def test_xpath_needs_a_resource() -> None:
    with pytest.raises(ExpressionError, match="needs a FHIR resource"):
        evaluate_path("a/b", [1, 2])
    with pytest.raises(ExpressionError, match="XPath"):
        evaluate_path("fhir:Patient[", PATIENT)


def test_xml_form_follows_the_fhir_mapping() -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": PATIENT, "search": {"mode": "match"}}],
    }
    xml = to_xml(bundle)
    ns = {"f": "http://hl7.org/fhir"}
    assert xml.xpath("/f:Bundle/f:entry/f:resource/f:Patient/f:id/@value", namespaces=ns) == ["p1"]
    assert xml.xpath("//f:name/f:given/@value", namespaces=ns) == ["Zoë", "Anna"]


@pytest.mark.parametrize(
    ("received", "operator", "expected", "ok"),
    [
        (["a"], "equals", "a", True),
        (["a"], "equals", "b", False),
        ([], "equals", "a", False),
        (["a"], "notEquals", "b", True),
        (["200"], "in", "200,204", True),
        (["404"], "in", "200, 204", False),
        (["404"], "notIn", "200,204", True),
        (["10"], "greaterThan", "9", True),
        (["2024-01-02"], "greaterThan", "2024-01-01", True),
        (["9"], "lessThan", "10", True),
        ([], "empty", None, True),
        ([""], "empty", None, True),
        (["x"], "empty", None, False),
        (["x"], "notEmpty", None, True),
        (["abc", "xyz"], "contains", "yz", True),
        (["abc"], "notContains", "b", False),
        (["a"], "equals", None, False),
    ],
)
def test_operators(received: list[str], operator: str, expected: str | None, ok: bool) -> None:
    assert compare("x", received, operator, expected).ok is ok


def test_minimum_content_and_navigation_links() -> None:
    assert minimum_content({"name": [{"given": ["Anna"]}], "meta": {"versionId": "9"}}, PATIENT).ok
    verdict = minimum_content({"name": [{"family": "Other"}]}, PATIENT)
    assert not verdict.ok and "name[0]" in verdict.message
    page = {
        "resourceType": "Bundle",
        "link": [{"relation": r, "url": "u"} for r in ("self", "first", "last", "next")],
    }
    assert navigation_links(page, True).ok
    assert not navigation_links(page, False).ok
    assert not navigation_links({"resourceType": "Bundle", "link": []}, True).ok


def test_profile_cardinality_fixed_values_and_slices() -> None:
    store = ProfileStore(HERE / "profiles")
    url = "urn:imageshare:test:StructureDefinition/tiny-patient"
    verdict = validate(PATIENT, url, store)
    assert verdict is not None and verdict.ok, verdict
    other = json.loads(json.dumps(PATIENT))
    other["identifier"] = [{"system": "urn:other", "value": "1"}]
    other["deceasedBoolean"] = False
    del other["name"]
    verdict = validate(other, url, store)
    assert verdict is not None and not verdict.ok
    assert "Patient.identifier:mrn: cardinality 1..1, found 0" in verdict.message
    assert "Patient.name: cardinality 1..1, found 0" in verdict.message
    assert "Patient.deceased[x]: cardinality 0..0, found 1" in verdict.message
    two = json.loads(json.dumps(PATIENT))
    two["identifier"].append({"system": "urn:imageshare:test:mrn", "value": "M-2"})
    assert "cardinality 1..1, found 2" in validate(two, url, store).message  # type: ignore[union-attr]


def test_core_profile_uses_the_base_model() -> None:
    store = ProfileStore(None)
    core = "http://hl7.org/fhir/StructureDefinition/Patient"
    assert validate(PATIENT, core, store).ok  # type: ignore[union-attr]
    bad = validate(dict(PATIENT, birthDate="30.07.1992"), core, store)
    assert bad is not None and not bad.ok and "birthDate" in bad.message
    study = {"resourceType": "ImagingStudy", "status": "available"}  # subject is 1..1
    verdict = validate(study, "http://hl7.org/fhir/StructureDefinition/ImagingStudy", store)
    assert verdict is not None and not verdict.ok and "subject" in verdict.message
    assert validate(PATIENT, "http://example.org/unknown", store) is None


def test_discover_finds_scripts_by_content(tmp_path: Path) -> None:
    found = discover([HERE / "scripts"])
    names = {p.name for p in found}
    assert {"engine-features.json", "engine-skips.json", "connectathon-patient-read.xml"} <= names
    assert not any("fixtures" in p.parts for p in found)
    with pytest.raises(ScriptError):
        discover([tmp_path / "missing"])


def test_xml_script_keeps_fixture_and_profile_ids() -> None:
    script = load_script(HERE / "scripts" / "connectathon-patient-read.xml")
    assert set(script.fixtures) == {"fixture-patient-create", "fixture-patient-minimum"}
    assert script.data["profile"][0]["id"] == "patient-profile"
    assert script.fixtures["fixture-patient-create"].resource["name"][0]["family"] == "Chalmers"  # type: ignore[index]
