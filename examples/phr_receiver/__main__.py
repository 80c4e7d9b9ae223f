"""``python -m examples.phr_receiver keygen | register | serve | pull`` (see README.md)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import httpx

from examples.phr_receiver import keys as keyfile


def cmd_keygen(args: argparse.Namespace) -> int:
    keyset = keyfile.private_set(keyfile.generate(args.kind))
    keyfile.save(keyset, Path(args.out))
    sys.stdout.write(json.dumps(keyfile.public_jwks(keyset), indent=2) + "\n")
    return 0


def cmd_register(args: argparse.Namespace) -> int:
    """Register this PHR with an Image Share server through its admin API."""
    body: dict[str, object] = {"name": args.name}
    if args.jwks_uri:
        body["jwks_uri"] = args.jwks_uri
    else:
        body["jwks"] = keyfile.public_jwks(keyfile.load(Path(args.keys)))
    for name in ("endpoint", "client_id", "push_token"):
        if getattr(args, name):
            body[name] = getattr(args, name)
    response = httpx.post(
        f"{args.server}/phr/recipients",
        json=body,
        headers={"Authorization": f"Bearer {args.admin_token}"},
    )
    sys.stdout.write(response.text + "\n")
    return 0 if response.is_success else 1


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from examples.phr_receiver.receiver import ReceiverConfig, create_receiver

    config = ReceiverConfig(Path(args.store), keyfile.load(Path(args.keys)), args.push_token)
    uvicorn.run(create_receiver(config), host=args.host, port=args.port)
    return 0


def cmd_pull(args: argparse.Namespace) -> int:
    from examples.phr_receiver.pull import pull_study

    stored = pull_study(
        args.server, args.token, args.study, keyfile.load(Path(args.keys)), Path(args.store)
    )
    sys.stdout.write(f"stored {stored}\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m examples.phr_receiver")
    sub = parser.add_subparsers(dest="command", required=True)
    keygen = sub.add_parser("keygen", help="new private key set; prints the public JWKS")
    keygen.add_argument("--out", required=True, help="private JWK Set file (mode 0600)")
    keygen.add_argument("--kind", choices=sorted(keyfile.KINDS), default="EC")
    keygen.set_defaults(handler=cmd_keygen)

    reg = sub.add_parser("register", help="register with an Image Share server (admin token)")
    reg.add_argument("--server", required=True)
    reg.add_argument("--admin-token", required=True)
    reg.add_argument("--name", required=True)
    source = reg.add_mutually_exclusive_group(required=True)
    source.add_argument("--keys", help="private key file: its public half is sent inline")
    source.add_argument("--jwks-uri", help="where this receiver publishes its JWKS")
    reg.add_argument("--endpoint", help="push URL, e.g. https://phr.example/deliveries")
    reg.add_argument("--client-id", help="this PHR's SMART client_id (needed for pull)")
    reg.add_argument("--push-token", help="token Image Share must present when pushing")
    reg.set_defaults(handler=cmd_register)

    serve = sub.add_parser("serve", help="run the push receiver")
    serve.add_argument("--keys", required=True)
    serve.add_argument("--store", required=True)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8090)
    serve.add_argument("--push-token")
    serve.set_defaults(handler=cmd_serve)

    pull = sub.add_parser("pull", help="pull one study with a patient's access token")
    pull.add_argument("--server", required=True)
    pull.add_argument("--token", required=True)
    pull.add_argument("--study", required=True)
    pull.add_argument("--keys", required=True)
    pull.add_argument("--store", required=True)
    pull.set_defaults(handler=cmd_pull)

    args = parser.parse_args(argv)
    handler = args.handler
    return int(handler(args))


if __name__ == "__main__":
    raise SystemExit(main())
