"""``imageshare patients``, ``clients`` and ``keys``: patient accounts, SMART apps and signing keys.

Site staff run these on the server; what they print (access codes, client secrets, initial
access tokens) is shown once and stored only as hashes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from app.config import Settings


def _out(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def _engine() -> Any:
    from app.archive.service import Archive

    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return Archive.open(settings).engine


def cmd_patients_enroll(args: argparse.Namespace) -> int:
    """Print the one-time access code a patient uses, with their birth date, to claim an account."""
    from app.access.patients import resolver
    from smart import accounts

    engine = _engine()
    try:
        enrolled = accounts.enrol(engine, args.patient_id, args.issuer, args.birth_date)
    except accounts.AccountError as exc:
        sys.stderr.write(f"imageshare patients enroll: {exc}\n")
        return 2
    resolver(engine)(args.patient_id, args.issuer, accounts.normalise_birth_date(args.birth_date))
    _out(f"access code: {enrolled.access_code}")
    _out(f"valid until: {enrolled.expires_at:%Y-%m-%d}")
    _out("Give it to the patient with the address of the sign-up page (/oauth/claim).")
    return 0


def cmd_clients_register(args: argparse.Namespace) -> int:
    import json

    from smart import clients

    jwks = None
    if args.jwks:
        try:
            jwks = json.loads(Path(args.jwks).read_text())
        except (OSError, ValueError) as exc:
            sys.stderr.write(f"imageshare clients register: cannot read --jwks: {exc}\n")
            return 2
    engine = _engine()
    try:
        reg = clients.register(
            engine,
            args.name,
            scope=args.scope,
            redirect_uris=args.redirect_uri,
            jwks=jwks,
            jwks_uri=args.jwks_uri,
            confidential=args.confidential,
            launch_uri=args.launch_uri or "",
            is_admin=args.admin,
        )
    except clients.ClientError as exc:
        sys.stderr.write(f"imageshare clients register: {exc}\n")
        return 2
    _out(f"client_id: {reg.client_id}")
    if reg.client_secret:
        _out(f"client_secret: {reg.client_secret}  (shown once; store it now)")
    _out(f"token_endpoint_auth_method: {reg.client.auth_method}")
    _out(f"grant_types: {' '.join(reg.client.grant_types)}")
    return 0


def cmd_clients_initial_token(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from smart import clients

    engine = _engine()
    token = clients.new_registration_token(engine, timedelta(hours=args.hours), args.uses)
    _out(f"initial access token: {token}")
    _out("Send it as 'Authorization: Bearer …' to POST /oauth/register (RFC 7591).")
    return 0


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    from smart import keys

    kid = keys.rotate(_engine())
    _out(f"now signing with key {kid}; earlier keys stay published for a grace period")
    return 0


def add_commands(sub: Any) -> None:
    patients = sub.add_parser("patients", help="patient accounts").add_subparsers(
        dest="patients_command", required=True
    )
    enroll = patients.add_parser("enroll", help="print a one-time access code for a patient")
    enroll.add_argument("--patient-id", required=True)
    enroll.add_argument("--issuer", default="", help="Issuer of Patient ID (default none)")
    enroll.add_argument("--birth-date", required=True, help="YYYY-MM-DD")
    enroll.set_defaults(handler=cmd_patients_enroll)

    clients = sub.add_parser("clients", help="SMART apps and backend services").add_subparsers(
        dest="clients_command", required=True
    )
    reg = clients.add_parser("register", help="register an app; prints its client_id")
    reg.add_argument("--name", required=True)
    reg.add_argument("--redirect-uri", action="append", default=[])
    keys_group = reg.add_mutually_exclusive_group()
    keys_group.add_argument("--jwks", help="file with the client's public JWK Set")
    keys_group.add_argument("--jwks-uri", help="URL of the client's public JWK Set")
    reg.add_argument("--scope", required=True, help='e.g. "launch/patient patient/*.rs"')
    reg.add_argument("--confidential", action="store_true", help="issue a client secret")
    reg.add_argument("--launch-uri", help="app launch URL for 'open in app' from the portal")
    reg.add_argument("--admin", action="store_true", help="backend client acting as admin")
    reg.set_defaults(handler=cmd_clients_register)
    initial = clients.add_parser("initial-token", help="RFC 7591 initial access token")
    initial.add_argument("--hours", type=float, default=24)
    initial.add_argument("--uses", type=int, default=1)
    initial.set_defaults(handler=cmd_clients_initial_token)

    keys = sub.add_parser("keys", help="token signing keys").add_subparsers(
        dest="keys_command", required=True
    )
    keys.add_parser("rotate", help="start signing with a new key").set_defaults(
        handler=cmd_keys_rotate
    )
