"""Generate ``data/annex_e.json``, the PS3.15 Annex E table the engine runs on, from two packages.

Nothing in the table is typed by hand. Run ``python -m app.research.annex_e_build`` with the test
extras installed; ``tests/unit/test_deidentify_table.py`` regenerates it and fails on any drift.

Sources (both on PyPI, both permissively licensed):

- ``dicom-anonymizer`` 2.1.0 (Kitware, BSD): the Basic Profile column of PS3.15 Table E.1-1,
  edition 2026c (``dicomfields_2026c.py``), 655 rows including the curve/overlay group patterns.
- ``dicom-standard`` 0.1.0 (Innolitics, MIT): the same table with one column per option
  (``confidentiality_profile_attributes.json``, edition 2020), the private-attribute row, and the
  IOD tables (``sops.json``, ``ciod_to_modules.json``, ``module_to_attributes.json``) that give
  each attribute's type in each IOD.

Where both list an attribute the 2026c Basic Profile action wins; option columns come from the
2020 edition. For rows added since 2020 two option columns follow the rule the standard applies
to every older row (see docs/deidentification.md): date/time VRs (DA, DT, TM) are K under
Retain Longitudinal Temporal Information with Full Dates and C with Modified Dates; UIDs replaced
with U are K under Retain UIDs. Their other option columns stay empty, so those options keep less
than the current standard allows, never more.
"""

from __future__ import annotations

import importlib
import json
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from pydicom.datadict import dictionary_description, dictionary_VR

OUT = Path(__file__).with_name("data") / "annex_e.json"
EDITION_MODULE = "dicomanonymizer.dicom_anonymization_databases.dicomfields_2026c"
CATEGORIES = {
    "D_TAGS": "D",
    "Z_TAGS": "Z",
    "X_TAGS": "X",
    "U_TAGS": "U",
    "Z_D_TAGS": "Z/D",
    "X_Z_TAGS": "X/Z",
    "X_D_TAGS": "X/D",
    "X_Z_D_TAGS": "X/Z/D",
    "X_Z_U_STAR_TAGS": "X/Z/U*",
}
OPTION_COLUMNS = {
    "rtnLongFullDatesOpt": "retain_longitudinal_full_dates",
    "rtnLongModifDatesOpt": "retain_longitudinal_modified_dates",
    "rtnUIDsOpt": "retain_uids",
    "rtnDevIdOpt": "retain_device_identity",
    "rtnInstIdOpt": "retain_institution_identity",
    "rtnPatCharsOpt": "retain_patient_characteristics",
    "cleanDescOpt": "clean_descriptors",
    "cleanStructContOpt": "clean_structured_content",
    "cleanGraphOpt": "clean_graphics",
    "rtnSafePrivOpt": "retain_safe_private",
}
PATTERN_IDS = {"50xxxxxx": "50XXXXXX", "60xx3000": "60XX3000", "60xx4000": "60XX4000"}
PRIVATE_ID = "ggggeeee-where-gggg-is-odd"
COMBINATIONS = {"Z/D", "X/Z", "X/D", "X/Z/D", "X/Z/U*"}
TYPE_RANK = {"1": 1, "1C": 1, "2": 2, "2C": 2, "3": 3, "None": 3}


def _standard_dir() -> Path:
    for file in metadata.files("dicom-standard") or []:
        if file.name == "confidentiality_profile_attributes.json":
            return Path(str(file.locate())).parent
    raise FileNotFoundError("dicom-standard data files are not installed")


def _load(name: str) -> Any:
    return json.loads((_standard_dir() / name).read_text(encoding="utf-8"))


def _mask_pattern(entry: tuple[int, ...]) -> str:
    """``(0x6000, 0x3000, 0xFF00, 0xFFFF)`` → ``60XX3000`` (the table's own notation)."""
    group, element, gmask, emask = entry
    digits = f"{group:04X}{element:04X}"
    mask = f"{gmask:04X}{emask:04X}"
    return "".join(d if m == "F" else "X" for d, m in zip(digits, mask, strict=True))


def _vr(tag: str) -> str:
    try:
        return str(dictionary_VR(int(tag, 16)))
    except KeyError:
        return ""


def _name(tag: str, old: dict[str, Any]) -> str:
    if tag in old:
        return str(old[tag]["name"])
    try:
        return str(dictionary_description(int(tag, 16)))
    except KeyError:
        return ""


def basic_profile_2026c() -> dict[str, str]:
    module = importlib.import_module(EDITION_MODULE)
    actions: dict[str, str] = {}
    for category, code in CATEGORIES.items():
        for entry in getattr(module, category):
            key = f"{entry[0]:04X}{entry[1]:04X}" if len(entry) == 2 else _mask_pattern(entry)
            actions[key] = code
    return actions


def _options(row: dict[str, Any] | None, tag: str, basic: str) -> tuple[dict[str, str], list[str]]:
    if row is not None:
        opts = {OPTION_COLUMNS[k]: v for k, v in row.items() if k in OPTION_COLUMNS}
        return opts, []
    opts, derived = {}, []
    if _vr(tag) in {"DA", "DT", "TM"}:
        opts["retain_longitudinal_full_dates"] = "K"
        opts["retain_longitudinal_modified_dates"] = "C"
        derived += ["retain_longitudinal_full_dates", "retain_longitudinal_modified_dates"]
    if _vr(tag) == "UI" and basic in {"U", "D"}:
        opts["retain_uids"] = "K"
        derived.append("retain_uids")
    return opts, derived


def build_rows() -> list[dict[str, Any]]:
    old = {r["id"].upper(): r for r in _load("confidentiality_profile_attributes.json")}
    old.update({v: old.pop(k.upper()) for k, v in PATTERN_IDS.items()})
    rows = []
    for key, basic in sorted(basic_profile_2026c().items()):
        opts, derived = _options(old.get(key), key, basic)
        row: dict[str, Any] = {"tag": key, "name": _name(key, old), "basic": basic}
        row["options"] = opts
        if derived:
            row["derived_options"] = derived
        rows.append(row)
    private = old[PRIVATE_ID.upper()]
    rows.append(
        {
            "tag": "PRIVATE",
            "name": private["name"],
            "basic": private["basicProfile"],
            "options": _options(private, "", "")[0],
        }
    )
    return rows


def _sop_to_ciod() -> dict[str, str]:
    names = {c["name"]: c["id"] for c in _load("ciods.json")}
    return {s["id"]: names[s["ciod"]] for s in _load("sops.json") if s["ciod"] in names}


def build_iod_types(combination_tags: set[str]) -> dict[str, dict[str, dict[str, int]]]:
    """Per SOP class: the strongest type (1, 2 or 3) of each combination-coded attribute.

    ``top`` is its type as a top-level attribute of the IOD, ``nested`` inside any sequence; the
    strongest across all modules of the IOD (conditional 1C/2C count as 1/2) keeps conformance
    wherever the attribute may appear.
    """
    modules: dict[str, list[str]] = {}
    for link in _load("ciod_to_modules.json"):
        modules.setdefault(link["ciodId"], []).append(link["moduleId"])
    per_module: dict[str, list[tuple[str, int, bool]]] = {}
    for attr in _load("module_to_attributes.json"):
        tag = attr["tag"][1:10].replace(",", "").upper()
        if tag in combination_tags:
            deep = attr["path"].count(":") > 1
            rank = TYPE_RANK.get(attr["type"], 3)
            per_module.setdefault(attr["moduleId"], []).append((tag, rank, deep))
    result: dict[str, dict[str, dict[str, int]]] = {}
    for sop, ciod in sorted(_sop_to_ciod().items()):
        top: dict[str, int] = {}
        nested: dict[str, int] = {}
        for module in modules.get(ciod, []):
            for tag, rank, is_nested in per_module.get(module, []):
                target = nested if is_nested else top
                target[tag] = min(rank, target.get(tag, 3))
        result[sop] = {
            "top": {t: r for t, r in sorted(top.items()) if r < 3},
            "nested": {t: r for t, r in sorted(nested.items()) if r < 3},
        }
    return result


def build() -> dict[str, Any]:
    rows = build_rows()
    combos = {r["tag"] for r in rows if r["basic"] in COMBINATIONS}
    return {
        "about": "PS3.15 Annex E Table E.1-1, generated by app/research/annex_e_build.py",
        "sources": {
            "basic_profile": f"dicom-anonymizer {metadata.version('dicom-anonymizer')} "
            "(dicomfields_2026c)",
            "options_and_iods": f"dicom-standard {metadata.version('dicom-standard')} "
            "(confidentiality_profile_attributes.json, sops.json, ciod_to_modules.json, "
            "module_to_attributes.json)",
        },
        "attributes": rows,
        "iod_types": build_iod_types(combos),
    }


def render(table: dict[str, Any]) -> str:
    return json.dumps(table, indent=1, sort_keys=False, ensure_ascii=False) + "\n"


def main() -> int:
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(render(build()), encoding="utf-8")
    sys.stderr.write(f"wrote {OUT}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
