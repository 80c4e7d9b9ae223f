"""``imageshare phr register | list | disable`` and ``imageshare worker`` (the outbox worker on
its own, against a server started with ``IMAGESHARE_PHR_WORKER=false``)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from app.cli import main
from app.demo import study_files
from examples.phr_receiver import keys as keyfile
from tests import phr_kit
from tests.conftest import run_server
from tests.imaging import stow
from tests.phr_kit import deliver, delivery, final, make_receiver, serve, wait_until

IMAGESHARE = [sys.executable, "-m", "app.cli"]


def _env(settings_dir: Path, db_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMAGESHARE_")}
    env |= {"IMAGESHARE_DATA_DIR": str(settings_dir), "IMAGESHARE_DATABASE_URL": db_url, **extra}
    return env


@dataclass
class Cli:
    """Runs ``imageshare`` commands in this process (same code as the console script)."""

    env: dict[str, str]
    monkeypatch: pytest.MonkeyPatch
    capsys: pytest.CaptureFixture[str]

    def __call__(self, *args: str) -> tuple[int, str, str]:
        with self.monkeypatch.context() as m:
            for k, v in self.env.items():
                if k.startswith("IMAGESHARE_"):
                    m.setenv(k, v)
            code = main(list(args))
        out = self.capsys.readouterr()
        return code, out.out, out.err


def test_register_list_disable_and_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    receiver = make_receiver(tmp_path / "store")
    jwks_file = tmp_path / "phr.jwks.json"
    jwks_file.write_text(json.dumps(keyfile.public_jwks(receiver.config.keys)))
    token_file = tmp_path / "push-token"
    token_file.write_text("cli-token\n")
    receiver.config.push_token = "cli-token"
    settings = {**phr_kit.FAST, "phr_worker": False}
    with run_server(tmp_path, **settings) as server, serve(receiver.gate) as receiver.url:
        env = _env(server.settings.data_dir, server.settings.database_url or "")
        run = Cli(env, monkeypatch, capsys)
        bad = tmp_path / "bad.json"
        bad.write_text('{"keys": [{"kty": "EC", "use": "sig"}]}')
        code, _, err = run("phr", "register", "--name", "Bad", "--jwks", str(bad))
        assert code == 2 and "no key with use 'enc'" in err
        code, _, err = run("phr", "register", "--name", "X", "--jwks", str(tmp_path / "nope"))
        assert code == 2 and "No such file" in err
        code, out, err = run(
            "phr",
            "register",
            "--name",
            "CLI PHR",
            "--jwks",
            str(jwks_file),
            "--endpoint",
            f"{receiver.url}/deliveries",
            "--push-token-file",
            str(token_file),
        )
        assert code == 0, err
        recipient = out.split("recipient id: ")[1].split()[0]
        code, listed, _ = run("phr", "list")
        assert recipient in listed and "active" in listed
        assert "cli-token" not in listed + out

        spec = phr_kit.multi_series("PHR-CLI")
        files = list(study_files(spec))
        stow(server, files)
        job = deliver(server, spec.study_uid, recipient)
        assert delivery(server, job)["state"] == "queued"  # no worker in the server
        worker = subprocess.Popen(
            [*IMAGESHARE, "worker"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        try:
            view = wait_until(server, job, final, timeout=60)
        finally:
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(30) == 0
        assert view["state"] == "delivered", view
        assert receiver.dicom(job) == sorted(files)

        assert run("phr", "disable", recipient)[0] == 0
        assert "disabled" in run("phr", "list")[1]
        assert run("phr", "disable", "no-such-id")[0] == 2
        r = httpx.post(
            f"{server.url}/phr/deliveries", json={"study": spec.study_uid, "recipient": recipient}
        )
        assert r.status_code == 400
