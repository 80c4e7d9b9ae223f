"""Start and stop a throw-away Orthanc (Debian packages ``orthanc``, ``orthanc-dicomweb``) as the
peer in benchmarks: loopback only, empty storage, DICOMweb plugin at ``/dicom-web``."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ORTHANC = "/usr/sbin/Orthanc"
PLUGIN = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"


def available() -> bool:
    return Path(ORTHANC).exists() and Path(PLUGIN).exists()


@contextmanager
def orthanc(port: int, dicom_port: int) -> Iterator[str]:
    """Run Orthanc on 127.0.0.1:port; yields its DICOMweb root URL."""
    if not available():
        raise RuntimeError("Orthanc is not installed: apt-get install orthanc orthanc-dicomweb")
    work = Path(tempfile.mkdtemp(prefix="orthanc-bench-"))
    config = {
        "Name": "bench",
        "StorageDirectory": str(work / "storage"),
        "IndexDirectory": str(work / "index"),
        "HttpPort": port,
        "DicomPort": dicom_port,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "HttpServerEnabled": True,
        "DicomServerEnabled": False,
        "Plugins": [PLUGIN],
        "DicomWeb": {
            "Enable": True,
            "Root": "/dicom-web/",
            "StudiesMetadata": "Full",
            "SeriesMetadata": "Full",
        },
        "StorageCompression": False,
        "HttpThreadsCount": 50,
        "ConcurrentJobs": 2,
        "LimitFindResults": 0,
        "LimitFindInstances": 0,
    }
    (work / "orthanc.json").write_text(json.dumps(config))
    log = open(work / "orthanc.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([ORTHANC, str(work / "orthanc.json")], stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/system", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"Orthanc did not start; see {work / 'orthanc.log'}")
            time.sleep(0.2)
        yield f"{base}/dicom-web"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
        shutil.rmtree(work, ignore_errors=True)


def rss_kib(pid: int) -> int:
    """Resident set size of a process and its children (KiB)."""
    total = 0
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total
