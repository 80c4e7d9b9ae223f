"""DIMSE SCP against real SCUs: dcmtk's echoscu, storescu and findscu, and pynetdicom.

The SCP runs inside the live server (``dimse_port`` setting, as ``serve --dimse-port``); what
C-STORE stores is then read back over WADO-RS, so both surfaces share one ingest.
"""

from __future__ import annotations

import io
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.uid import JPEGLSLossless, generate_uid
from pynetdicom import AE, StoragePresentationContexts
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    CTImageStorage,
    StudyRootQueryRetrieveInformationModelFind,
    Verification,
)

from app.demo import PatientSpec, SeriesSpec, StudySpec, study_files
from tests.conftest import LiveServer, free_port, run_server
from tests.imaging import parts, require_tool

AE_TITLE = "IS_TEST"
ALLOWED = ["STORESCU", "FINDSCU", "ECHOSCU", "PYSCU"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    port = free_port()
    with run_server(
        tmp_path_factory.mktemp("dimse"),
        auth="off",
        dimse_port=port,
        dimse_ae_title=AE_TITLE,
        dimse_allowed_aes=ALLOWED,
    ) as live:
        yield live


def dimse_port(server: LiveServer) -> int:
    port = server.settings.dimse_port
    assert port is not None
    return port


def write_study(tmp: Path, spec: StudySpec) -> list[Path]:
    paths = []
    for i, data in enumerate(study_files(spec)):
        p = tmp / f"{i}.dcm"
        p.write_bytes(data)
        paths.append(p)
    return paths


def dcmtk(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    exe = require_tool(tool)
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=60, check=False)


def test_echoscu(server: LiveServer) -> None:
    port = str(dimse_port(server))
    ok = dcmtk("echoscu", "-aet", "ECHOSCU", "-aec", AE_TITLE, "127.0.0.1", port)
    assert ok.returncode == 0, ok.stderr
    refused = dcmtk("echoscu", "-aet", "STRANGER", "-aec", AE_TITLE, "127.0.0.1", port)
    assert refused.returncode != 0
    assert "Rejected" in refused.stderr or "rejected" in refused.stderr.lower()


def test_storescu_then_wado(server: LiveServer, tmp_path: Path) -> None:
    spec = StudySpec(
        PatientSpec("DM-1", "Dimse^Store"),
        [SeriesSpec("CT", 3, 32, 32), SeriesSpec("CT", 1, 32, 32, transfer_syntax=JPEGLSLossless)],
        study_uid=str(generate_uid()),
    )
    paths = write_study(tmp_path, spec)
    r = dcmtk(
        "storescu", "-xt", "-R", "-aet", "STORESCU", "-aec", AE_TITLE, "127.0.0.1",
        str(dimse_port(server)), *map(str, paths),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    retrieved = httpx.get(
        f"{server.dicomweb}/studies/{spec.study_uid}",
        headers={"Accept": 'multipart/related; type="application/dicom"; transfer-syntax=*'},
        timeout=30,
    )
    got = parts(retrieved)
    assert len(got) == 4
    assert got[-1][0] == f"application/dicom; transfer-syntax={JPEGLSLossless}"
    originals = {pydicom.dcmread(p).SOPInstanceUID: pydicom.dcmread(p) for p in paths}
    for _, data in got:
        ds = pydicom.dcmread(io.BytesIO(data))
        assert np.array_equal(ds.pixel_array, originals[ds.SOPInstanceUID].pixel_array)
        assert ds.file_meta.SourceApplicationEntityTitle == "STORESCU"


def test_findscu_study_level(server: LiveServer, tmp_path: Path) -> None:
    spec = StudySpec(
        PatientSpec("DM-2", "Findme^Anna"),
        [SeriesSpec("MR", 2, 16, 16)],
        study_uid=str(generate_uid()),
        accession="ACC-DM-2",
    )
    assert store_with_pynetdicom(server, list(study_files(spec))) == [0, 0]
    out = tmp_path / "rsp"
    out.mkdir()
    r = dcmtk(
        "findscu", "-S", "-aet", "FINDSCU", "-aec", AE_TITLE, "-X", "-od", str(out),
        "-k", "QueryRetrieveLevel=STUDY", "-k", "PatientName=FINDME*",
        "-k", "StudyInstanceUID", "-k", "AccessionNumber", "-k", "ModalitiesInStudy",
        "-k", "NumberOfStudyRelatedInstances",
        "127.0.0.1", str(dimse_port(server)),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    responses = [pydicom.dcmread(p) for p in sorted(out.iterdir())]
    assert len(responses) == 1
    rsp = responses[0]
    assert rsp.StudyInstanceUID == spec.study_uid
    assert rsp.AccessionNumber == "ACC-DM-2"
    assert rsp.ModalitiesInStudy == "MR"
    assert int(rsp.NumberOfStudyRelatedInstances) == 2


def store_with_pynetdicom(server: LiveServer, files: list[bytes]) -> list[int]:
    ae = AE(ae_title="PYSCU")
    ae.requested_contexts = StoragePresentationContexts[:100]
    assoc = ae.associate("127.0.0.1", dimse_port(server), ae_title=AE_TITLE)
    assert assoc.is_established
    try:
        return [int(assoc.send_c_store(pydicom.dcmread(io.BytesIO(f))).Status) for f in files]
    finally:
        assoc.release()


def find_with_pynetdicom(server: LiveServer, query: Dataset) -> list[Dataset]:
    ae = AE(ae_title="PYSCU")
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelFind)
    assoc = ae.associate("127.0.0.1", dimse_port(server), ae_title=AE_TITLE)
    assert assoc.is_established
    try:
        out = []
        for status, identifier in assoc.send_c_find(
            query, StudyRootQueryRetrieveInformationModelFind
        ):
            assert status is not None
            if status.Status == 0xFF00:
                out.append(identifier)
            else:
                assert status.Status == 0x0000, hex(status.Status)
        return out
    finally:
        assoc.release()


@pytest.mark.filterwarnings("ignore:Invalid value for VR UI")  # the deliberately bad UID
def test_pynetdicom_store_statuses(server: LiveServer) -> None:
    spec = StudySpec(PatientSpec("DM-3", "Status^Test"), [SeriesSpec("CT", 1, 16, 16)])
    [data] = study_files(spec)
    assert store_with_pynetdicom(server, [data, data]) == [0x0000, 0x0000]  # duplicate is fine
    ds = pydicom.dcmread(io.BytesIO(data))
    ds.PatientName = "Changed^Name"
    buf = io.BytesIO()
    ds.save_as(buf)
    assert store_with_pynetdicom(server, [buf.getvalue()]) == [0x0111]
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = str(generate_uid())
    buf = io.BytesIO()
    with pydicom.config.disable_value_validation():
        ds.StudyInstanceUID = "1.2.bad..uid"
        ds.save_as(buf)
    assert store_with_pynetdicom(server, [buf.getvalue()]) == [0xA900]


def test_pynetdicom_find_series_and_images(server: LiveServer) -> None:
    spec = StudySpec(
        PatientSpec("DM-4", "Series^Find"),
        [SeriesSpec("CT", 2, 16, 16), SeriesSpec("MR", 3, 16, 16)],
        study_uid=str(generate_uid()),
    )
    assert set(store_with_pynetdicom(server, list(study_files(spec)))) == {0}
    q = Dataset()
    q.QueryRetrieveLevel = "SERIES"
    q.StudyInstanceUID = spec.study_uid
    q.SeriesInstanceUID = ""
    q.Modality = "MR"
    q.NumberOfSeriesRelatedInstances = ""
    [series] = find_with_pynetdicom(server, q)
    assert series.Modality == "MR"
    assert int(series.NumberOfSeriesRelatedInstances) == 3
    q = Dataset()
    q.QueryRetrieveLevel = "IMAGE"
    q.StudyInstanceUID = spec.study_uid
    q.SeriesInstanceUID = series.SeriesInstanceUID
    q.SOPInstanceUID = ""
    q.InstanceNumber = ""
    images = find_with_pynetdicom(server, q)
    assert [int(i.InstanceNumber) for i in images] == [1, 2, 3]
    q = Dataset()
    q.QueryRetrieveLevel = "STUDY"
    q.StudyInstanceUID = ""
    q.PatientID = "NOBODY"
    assert find_with_pynetdicom(server, q) == []


def test_bad_find_level_is_refused(server: LiveServer) -> None:
    ae = AE(ae_title="PYSCU")
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelFind)
    ae.add_requested_context(Verification)
    assoc = ae.associate("127.0.0.1", dimse_port(server), ae_title=AE_TITLE)
    q = Dataset()
    q.QueryRetrieveLevel = "WORLD"
    try:
        statuses = [
            s.Status
            for s, _ in assoc.send_c_find(q, StudyRootQueryRetrieveInformationModelFind)
            if s is not None
        ]
    finally:
        assoc.release()
    assert statuses == [0xA900]


def test_cli_flags_reach_the_settings(tmp_path: Path) -> None:
    """``serve --dimse-port`` is the documented switch: check the parser and env hand-over."""
    import os

    from app.cli import _dimse_env, build_parser

    args = build_parser().parse_args(
        ["serve", "--dimse-port", "11112", "--dimse-ae-title", "SITE_AE",
         "--dimse-allowed-aes", "PACS1,MODALITY2"]
    )  # fmt: skip
    saved = dict(os.environ)
    try:
        assert _dimse_env(args) is False
        from app.config import Settings

        s = Settings()
        assert (s.dimse_port, s.dimse_ae_title) == (11112, "SITE_AE")
        assert s.dimse_allowed_aes == ["PACS1", "MODALITY2"]
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.mark.slow
def test_serve_with_workers_runs_one_scp(tmp_path: Path) -> None:
    """``imageshare serve --workers 2 --dimse-port P``: the parent runs the SCP (workers would
    fight over the port), and it stores into the same archive the workers serve."""
    import os
    import sys
    import time

    http_port, dimse = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMAGESHARE_")}
    env.update(
        IMAGESHARE_DATA_DIR=str(tmp_path / "data"),
        IMAGESHARE_DATABASE_URL=f"sqlite:///{tmp_path / 'index.db'}",
        IMAGESHARE_LOG_LEVEL="WARNING",
        IMAGESHARE_AUTH="off",
    )
    cmd = [sys.executable, "-m", "app.cli", "serve", "--port", str(http_port), "--workers", "2",
           "--dimse-port", str(dimse), "--dimse-ae-title", AE_TITLE]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{http_port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and proc.poll() is None, "serve did not start"
            time.sleep(0.2)
        ae = AE(ae_title="PYSCU")
        ae.add_requested_context(Verification)
        ae.add_requested_context(CTImageStorage)
        assoc = ae.associate("127.0.0.1", dimse, ae_title=AE_TITLE)
        assert assoc.is_established
        spec = StudySpec(PatientSpec("DM-5", "Workers^Test"), [SeriesSpec("CT", 1, 16, 16)])
        [data] = study_files(spec)
        try:
            assert assoc.send_c_echo().Status == 0
            assert assoc.send_c_store(pydicom.dcmread(io.BytesIO(data))).Status == 0
        finally:
            assoc.release()
        r = httpx.get(f"http://127.0.0.1:{http_port}/dicomweb/studies/{spec.study_uid}/metadata")
        assert r.status_code == 200 and len(r.json()) == 1
    finally:
        proc.terminate()
        proc.wait(timeout=30)
