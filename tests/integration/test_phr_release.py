"""The release delay (``IMAGESHARE_PHR_RELEASE_DELAY_HOURS``): a push waits for the study's
report, then for the delay after it, and is delivered once both have passed."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from pydicom.uid import generate_uid

from app.demo import PatientSpec, SeriesSpec, StudySpec, pdf_report, study_files
from examples.phr_receiver import keys as keyfile
from tests import phr_kit
from tests.conftest import run_server
from tests.imaging import stow
from tests.phr_kit import deliver, final, make_receiver, register, serve, wait_until

DELAY_HOURS = 2.0 / 3600  # two seconds


def spec(report: bool) -> StudySpec:
    return StudySpec(
        PatientSpec("PHR-DELAY", "Waiting^Wanda", "19900909", "F"),
        [SeriesSpec("CT", 2, 32, 32)],
        study_uid=str(generate_uid()),
        with_pdf_report=report,
    )


def test_release_delay_and_waiting_for_the_report(tmp_path: Path) -> None:
    settings = {
        **phr_kit.FAST,
        "phr_release_delay_hours": DELAY_HOURS,
        "phr_report_poll_seconds": 0.2,
    }
    receiver = make_receiver(tmp_path / "store")
    with run_server(tmp_path, **settings) as server, serve(receiver.gate) as receiver.url:
        body = {
            "name": "Delayed PHR",
            "jwks": keyfile.public_jwks(receiver.config.keys),
            "endpoint": f"{receiver.url}/deliveries",
        }
        recipient = register(server, body)
        reported, unreported = spec(True), spec(False)
        stow(server, list(study_files(reported)))
        stow(server, list(study_files(unreported)))

        held = deliver(server, reported.study_uid, recipient)
        waiting = deliver(server, unreported.study_uid, recipient)
        view = wait_until(server, held, lambda v: v["state"] == "waiting")
        assert "release delay" in view["detail"] and view["release_at"]
        release_at = datetime.fromisoformat(view["release_at"])
        assert release_at - datetime.fromisoformat(view["created"]) < timedelta(seconds=3)
        view = wait_until(server, waiting, lambda v: v["state"] == "waiting")
        assert view["detail"] == "waiting for the report" and view["release_at"] is None

        done = wait_until(server, held, final)
        assert done["state"] == "delivered"
        assert datetime.fromisoformat(done["delivered"]) >= release_at
        assert receiver.packages() == [held]
        assert phr_kit.delivery(server, waiting)["state"] == "waiting"  # still no report

        stow(server, [pdf_report(unreported)])
        done = wait_until(server, waiting, final)
        assert done["state"] == "delivered"
        assert sorted(receiver.packages()) == sorted([held, waiting])
