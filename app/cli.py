"""The ``imageshare`` command: serve | import | sweep | research | conformance | patients |
clients | keys | phr | worker."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from app import cli_access
from app.config import Settings

if TYPE_CHECKING:
    from app.dimse.scp import DimseServer
    from app.phr import PhrService

Handler = Callable[[argparse.Namespace], int]


def _out(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("pydicom").setLevel(logging.WARNING)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    if args.demo:
        os.environ["IMAGESHARE_DEMO"] = "true"
    dimse_here = _dimse_env(args)
    settings = Settings()
    _setup_logging(settings.log_level)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    logging.getLogger(__name__).info(
        "Image Share on http://%s:%d (public base %s)", args.host, args.port, settings.base_url
    )
    parent_scp = _start_parent_scp(settings) if dimse_here else None
    try:
        uvicorn.run(
            "app.main:create_app",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            access_log=False,
            log_level=settings.log_level.lower(),
            proxy_headers=False,
        )
    finally:
        if parent_scp is not None:
            parent_scp.stop()
    return 0


def _dimse_env(args: argparse.Namespace) -> bool:
    """Pass the DIMSE flags to the app; True when this process must run the SCP itself.

    With one worker the app's lifespan runs the SCP; with several, each worker would try to bind
    the port, so the parent process runs it instead.
    """
    if args.dimse_ae_title:
        os.environ["IMAGESHARE_DIMSE_AE_TITLE"] = args.dimse_ae_title
    if args.dimse_allowed_aes:
        os.environ["IMAGESHARE_DIMSE_ALLOWED_AES"] = args.dimse_allowed_aes
    if args.dimse_port is None:
        return False
    os.environ.setdefault("IMAGESHARE_DIMSE_HOST", args.host)
    if args.workers > 1:
        os.environ.pop("IMAGESHARE_DIMSE_PORT", None)
        os.environ["IMAGESHARE_PARENT_DIMSE_PORT"] = str(args.dimse_port)
        return True
    os.environ["IMAGESHARE_DIMSE_PORT"] = str(args.dimse_port)
    return False


def _start_parent_scp(settings: Settings) -> DimseServer:
    from app.archive.service import Archive
    from app.dimse.scp import DimseServer

    port = int(os.environ["IMAGESHARE_PARENT_DIMSE_PORT"])
    scp_settings = settings.model_copy(update={"dimse_port": port})
    server = DimseServer.from_settings(Archive.open(scp_settings), scp_settings)
    server.start()
    return server


def cmd_import(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from app.archive.importer import count_sources, run_import

    settings = Settings()
    _setup_logging("WARNING")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    paths = [Path(p) for p in args.paths]
    try:
        total = count_sources(paths)
    except FileNotFoundError as exc:
        sys.stderr.write(f"imageshare import: {exc}\n")
        return 2
    with tqdm(total=total, unit="file", desc="importing", disable=args.quiet) as bar:
        summary = run_import(settings, paths, args.workers, bar.update)
    _out(
        f"stored: {summary.stored}  duplicate: {summary.duplicate}  replaced: "
        f"{summary.replaced}  rejected: {summary.rejected}  skipped (not DICOM): "
        f"{summary.skipped}"
    )
    for reason, n in summary.reasons.most_common():
        _out(f"  rejected {n}: {reason}")
    return 1 if summary.rejected and not (summary.stored or summary.duplicate) else 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from app.archive.service import Archive
    from app.archive.sweep import clear_temp, sweep_orphans

    settings = Settings()
    _setup_logging("WARNING")
    archive = Archive.open(settings)
    temps = clear_temp(settings.tmp_dir, args.older_than)
    blobs = sweep_orphans(archive.engine, archive.store, args.older_than)
    _out(f"removed {temps} temporary files and {blobs} unreferenced blobs")
    return 0


def cmd_research_deidentify(args: argparse.Namespace) -> int:
    """PS3.15 Annex E research copies of files, folders and zip files, with a JSON report."""
    from tqdm import tqdm

    from app.errors import InvalidInput
    from app.research import (
        Profile,
        deidentify_paths,
        load_or_create_key,
        load_safe_private,
        new_key,
        parse_options,
        sources,
    )

    _setup_logging("WARNING")
    out = Path(args.out)
    report_path = Path(args.report) if args.report else out.with_name(out.name + "-report.json")
    try:
        options = parse_options([n for group in args.option for n in group.split(",")])
        safe = load_safe_private(Path(args.safe_private)) if args.safe_private else frozenset()
        profile = Profile(options, safe, frozenset(s.upper() for s in args.clean_pixel_source))
        if args.project_key:
            key, created = load_or_create_key(Path(args.project_key))
            if created:
                sys.stderr.write(f"created a new project key in {args.project_key}\n")
        else:
            key = new_key()
            sys.stderr.write("no --project-key: pseudonyms will not match any other run\n")
        total = len(sources([Path(p) for p in args.inputs]))
    except (InvalidInput, FileNotFoundError) as exc:
        sys.stderr.write(f"imageshare research deidentify: {exc}\n")
        return 2
    with tqdm(total=total, unit="file", desc="de-identifying", disable=args.quiet) as bar:
        report = deidentify_paths(
            [Path(p) for p in args.inputs],
            out,
            profile,
            key,
            workers=args.workers,
            progress=bar.update,
        )
    report.write(report_path)
    _out(
        f"written: {report.count('written')}  quarantined: {report.count('quarantined')}  "
        f"failed: {report.count('failed')}  report: {report_path}"
    )
    return 1 if report.count("failed") else 0


def _add_research(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    research = sub.add_parser("research", help="research copies")
    rsub = research.add_subparsers(dest="research_command", required=True)
    deid = rsub.add_parser(
        "deidentify", help="PS3.15 Annex E de-identified copies of files, folders, zip files"
    )
    deid.add_argument("--in", dest="inputs", nargs="+", required=True, metavar="PATH")
    deid.add_argument("--out", required=True, metavar="DIR")
    deid.add_argument("--profile", choices=["basic"], default="basic")
    deid.add_argument(
        "--option",
        action="extend",
        nargs="+",
        default=[],
        metavar="NAME",
        help="e.g. retain-uids retain-longitudinal-modified-dates clean-descriptors "
        "(space- or comma-separated, or repeated)",
    )
    deid.add_argument("--project-key", metavar="FILE", help="HMAC key; created if missing")
    deid.add_argument("--report", metavar="FILE", help="JSON report (default DIR-report.json)")
    deid.add_argument("--safe-private", metavar="FILE", help="JSON list for retain-safe-private")
    deid.add_argument(
        "--clean-pixel-source",
        action="append",
        default=[],
        metavar="MODALITY|SOPCLASS",
        help="sources the site vouches carry no burned-in text (e.g. US)",
    )
    deid.add_argument("--workers", type=int, default=max(1, os.cpu_count() or 1), help="processes")
    deid.add_argument("--quiet", action="store_true", help="no progress bar")
    deid.set_defaults(handler=cmd_research_deidentify)


def _parse_vars(pairs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise ValueError(f"--var takes NAME=VALUE, not {pair!r}")
        out[name] = value
    return out


def cmd_conformance_run(args: argparse.Namespace) -> int:
    """Run TestScripts against a server over HTTP; TestReports, summary table, exit code."""
    import conformance

    _setup_logging("WARNING")
    try:
        variables = _parse_vars(args.var)
    except ValueError as exc:
        sys.stderr.write(f"imageshare conformance run: {exc}\n")
        return 2
    suites = [Path(p) for p in args.suite] if args.suite else conformance.default_suites()
    options = conformance.RunOptions(
        base=args.base,
        token=args.token,
        variables=variables,
        profiles_dir=Path(args.profiles),
        timeout=args.timeout,
    )
    try:
        results = conformance.run_paths(suites, options)
    except conformance.ScriptError as exc:
        sys.stderr.write(f"imageshare conformance run: {exc}\n")
        return 2
    if not results:
        sys.stderr.write("imageshare conformance run: no TestScript found\n")
        return 2
    written = conformance.write_reports(results, args.base, Path(args.out))
    _out(conformance.summary_table(results))
    for line in conformance.problems(results):
        _out(line)
    _out(f"{len(written)} TestReport(s) in {args.out}")
    return conformance.exit_code(results)


def _add_conformance(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    conf = sub.add_parser("conformance", help="conformance testing with FHIR TestScripts")
    conf_sub = conf.add_subparsers(dest="conformance_command", required=True)
    run = conf_sub.add_parser(
        "run", help="run TestScripts (JSON or XML) against a server and write TestReports"
    )
    run.add_argument("--base", required=True, help="FHIR base URL of the server under test")
    run.add_argument(
        "--suite",
        nargs="+",
        action="extend",
        default=[],
        metavar="PATH",
        help="TestScript files or folders (default: the bundled suites except pending/)",
    )
    run.add_argument(
        "--var",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a TestScript variable (overrides its definition)",
    )
    run.add_argument("--token", help="bearer token sent on every request")
    run.add_argument("--out", default="conformance/reports", help="folder for TestReports")
    run.add_argument(
        "--profiles", default="profiles", help="StructureDefinitions for validateProfileId"
    )
    run.add_argument("--timeout", type=float, default=60.0, help="seconds per request")
    run.set_defaults(handler=cmd_conformance_run)


def _phr_service(settings: Settings) -> PhrService:
    """The PHR service as the server builds it (FHIR Bundle builder injected)."""
    from app.archive.service import Archive
    from app.fhir.study_bundle import study_collection
    from app.phr import PhrService

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    archive = Archive.open(settings)
    return PhrService(archive.engine, archive.store, settings, study_collection)


def cmd_phr_register(args: argparse.Namespace) -> int:
    """Register a PHR: its public encryption keys and, for push, its endpoint."""
    import json

    from app.errors import ImageShareError
    from app.phr import recipients

    try:
        jwks = json.loads(Path(args.jwks).read_text()) if args.jwks else None
        token = Path(args.push_token_file).read_text().strip() if args.push_token_file else None
    except (OSError, ValueError) as exc:
        sys.stderr.write(f"imageshare phr register: {exc}\n")
        return 2
    _setup_logging("WARNING")
    svc = _phr_service(Settings())
    spec = recipients.RecipientSpec(
        args.name, jwks, args.jwks_uri, args.endpoint, args.client_id, token
    )
    try:
        row = recipients.register(svc.engine, spec, svc.keys)
    except ImageShareError as exc:
        sys.stderr.write(f"imageshare phr register: {exc.message}\n")
        return 2
    svc.audit("phr.recipient.register", "success", "admin-cli", row.id, row.name)
    _out(f"recipient id: {row.id}")
    _out(f"keys: {', '.join(k.kid for k in svc.keys.keys(row.jwks, row.jwks_uri))}")
    _out(f"push endpoint: {row.endpoint or '(none: pull only)'}")
    return 0


def cmd_phr_list(args: argparse.Namespace) -> int:
    from app.phr import recipients

    _setup_logging("WARNING")
    svc = _phr_service(Settings())
    for row in recipients.listing(svc.engine, include_disabled=True):
        state = "disabled" if row.disabled else "active"
        push, client = row.endpoint or "-", row.client_id or "-"
        _out(f"{row.id}  {state:8}  {row.name}  push={push}  client={client}")
    return 0


def cmd_phr_disable(args: argparse.Namespace) -> int:
    from app.errors import NotFound
    from app.phr import recipients

    _setup_logging("WARNING")
    svc = _phr_service(Settings())
    try:
        recipients.set_disabled(svc.engine, args.id, True)
    except NotFound as exc:
        sys.stderr.write(f"imageshare phr disable: {exc.message}\n")
        return 2
    _out(f"disabled {args.id}")
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    """Run the PHR outbox worker in the foreground until SIGINT/SIGTERM."""
    import signal

    from app.phr import OutboxWorker

    settings = Settings()
    _setup_logging(settings.log_level)
    svc = _phr_service(settings)
    worker = OutboxWorker(svc)
    signal.signal(signal.SIGTERM, lambda *_: worker.stop(timeout=0))
    logging.getLogger(__name__).info("PHR outbox worker %s running", worker.owner)
    with contextlib.suppress(KeyboardInterrupt):
        worker.run_forever()
    return 0


def _add_phr(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    phr = sub.add_parser("phr", help="PHR recipients (encrypted delivery)")
    psub = phr.add_subparsers(dest="phr_command", required=True)
    reg = psub.add_parser("register", help="register a PHR's keys and push endpoint")
    reg.add_argument("--name", required=True)
    keys = reg.add_mutually_exclusive_group(required=True)
    keys.add_argument("--jwks", metavar="FILE", help="file with the PHR's public JWK Set")
    keys.add_argument("--jwks-uri", metavar="URL", help="where the PHR publishes its JWK Set")
    reg.add_argument("--endpoint", metavar="URL", help="push URL (omit for pull only)")
    reg.add_argument("--client-id", help="the PHR's SMART client_id (needed for pull)")
    reg.add_argument(
        "--push-token-file", metavar="FILE", help="bearer token the PHR expects on pushes"
    )
    reg.set_defaults(handler=cmd_phr_register)
    psub.add_parser("list", help="registered PHRs").set_defaults(handler=cmd_phr_list)
    dis = psub.add_parser("disable", help="stop deliveries to a PHR")
    dis.add_argument("id")
    dis.set_defaults(handler=cmd_phr_disable)
    worker = sub.add_parser("worker", help="run the PHR outbox worker on its own")
    worker.set_defaults(handler=cmd_worker)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="imageshare", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the server (settings from IMAGESHARE_* variables)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--demo", action="store_true", help="load demo studies at start")
    serve.add_argument("--dimse-port", type=int, help="run the DIMSE SCP on this port (e.g. 11112)")
    serve.add_argument("--dimse-ae-title", help="the SCP's AE title (default IMAGESHARE)")
    serve.add_argument(
        "--dimse-allowed-aes", help="comma-separated calling AE titles allowed (default: any)"
    )
    serve.set_defaults(handler=cmd_serve)

    imp = sub.add_parser("import", help="bulk-load DICOM files, folders and zip files")
    imp.add_argument("paths", nargs="+")
    imp.add_argument("--workers", type=int, default=max(1, os.cpu_count() or 1))
    imp.add_argument("--quiet", action="store_true", help="no progress bar")
    imp.set_defaults(handler=cmd_import)

    sweep = sub.add_parser("sweep", help="remove leftovers of interrupted writes")
    sweep.add_argument("--older-than", type=float, default=600, help="seconds (default 600)")
    sweep.set_defaults(handler=cmd_sweep)

    _add_research(sub)
    _add_conformance(sub)
    cli_access.add_commands(sub)
    _add_phr(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    return handler(args)


if __name__ == "__main__":
    raise SystemExit(main())
