"""Our StructureDefinitions are valid R4 resources, their examples meet them, and the checker
the integration tests rely on does catch violations."""

from __future__ import annotations

import copy
import json

import pytest
from fhir.resources.R4B.structuredefinition import StructureDefinition

from tests.fhir_helpers import PROFILES, check_profile, check_resource, load_profile

NAMES = [
    "imageshare-imagingstudy",
    "imageshare-documentreference",
    "imageshare-patient",
    "imageshare-wado-endpoint",
]
EXAMPLES = {
    "imageshare-imagingstudy": "ImagingStudy-example",
    "imageshare-documentreference": "DocumentReference-example",
    "imageshare-patient": "Patient-example",
    "imageshare-wado-endpoint": "Endpoint-example",
}


def example(name: str) -> dict:  # type: ignore[type-arg]
    return json.loads((PROFILES / "examples" / f"{EXAMPLES[name]}.json").read_text())  # type: ignore[no-any-return]


@pytest.mark.parametrize("name", NAMES)
def test_structure_definition_is_valid(name: str) -> None:
    sd = load_profile(name)
    StructureDefinition.model_validate(sd)
    assert sd["fhirVersion"] == "4.0.1" and sd["derivation"] == "constraint"
    assert sd["url"].endswith("/" + sd["id"])
    ids = [e["id"] for e in sd["differential"]["element"]]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("name", NAMES)
def test_examples_meet_their_profile(name: str) -> None:
    resource = check_resource(example(name))
    assert check_profile(resource, load_profile(name)) == []
    if name != "imageshare-wado-endpoint":
        assert resource["meta"]["profile"] == [load_profile(name)["url"]]


def test_checker_catches_missing_dicom_uid_and_wrong_fixed_value() -> None:
    study = example("imageshare-imagingstudy")
    broken = copy.deepcopy(study)
    broken["identifier"] = [i for i in broken["identifier"] if i.get("system") != "urn:dicom:uid"]
    problems = check_profile(broken, load_profile("imageshare-imagingstudy"))
    assert any("identifier:dicomUid" in p for p in problems)
    broken = copy.deepcopy(study)
    broken["series"][0]["modality"]["system"] = "http://example.org"
    assert check_profile(broken, load_profile("imageshare-imagingstudy"))
    broken = copy.deepcopy(study)
    del broken["endpoint"]
    assert any(
        "endpoint" in p for p in check_profile(broken, load_profile("imageshare-imagingstudy"))
    )


def test_checker_catches_mhd_minimal_violations() -> None:
    doc = example("imageshare-documentreference")
    profile = load_profile("imageshare-documentreference")
    broken = copy.deepcopy(doc)
    broken["docStatus"] = "final"
    broken["content"][0]["attachment"]["data"] = "aGk="
    broken["content"].append(copy.deepcopy(broken["content"][0]))
    problems = check_profile(broken, profile)
    assert any("docStatus" in p for p in problems)
    assert any("attachment.data" in p for p in problems)
    assert any(
        p.startswith("DocumentReference.content:") or "content: 2 > max" in p for p in problems
    )


def test_checker_catches_pattern_mismatch() -> None:
    patient = example("imageshare-patient")
    patient["identifier"][0]["type"]["coding"][0]["code"] = "SS"
    assert check_profile(patient, load_profile("imageshare-patient"))
