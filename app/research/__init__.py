"""Research copies: PS3.15 Annex E de-identification (consent and projects come later)."""

from app.research.batch import deidentify_one, deidentify_paths, sources
from app.research.deidentify import Deidentifier, Outcome, deidentify_dataset
from app.research.profile import (
    Profile,
    ProfileOptionValues,
    load_safe_private,
    parse_options,
)
from app.research.pseudonyms import Pseudonymizer, load_or_create_key, new_key
from app.research.report import InstanceReport, RunReport

__all__ = [
    "Deidentifier",
    "InstanceReport",
    "Outcome",
    "Profile",
    "ProfileOptionValues",
    "Pseudonymizer",
    "RunReport",
    "deidentify_dataset",
    "deidentify_one",
    "deidentify_paths",
    "load_or_create_key",
    "load_safe_private",
    "new_key",
    "parse_options",
    "sources",
]
