"""PHR delivery: studies packaged as compact JWEs for a registered PHR's key, pulled with the
patient's token or pushed through a durable outbox (docs/phr-package.md).

``jwe`` encrypts one file for one key (reused by SMART Health Links with ``alg: dir``); ``keys``
chooses the recipient's key; ``package`` plans and encrypts a study file by file; ``outbox``,
``delivery`` and ``worker`` run pushes; ``pull`` answers manifests and files.
"""

from app.phr.jwe import encrypt_file
from app.phr.keys import KeySource, RecipientKey, parse_jwks
from app.phr.models import Delivery, DeliveryStateValues, Recipient
from app.phr.service import PhrService, Requester
from app.phr.worker import OutboxWorker

__all__ = [
    "Delivery",
    "DeliveryStateValues",
    "KeySource",
    "OutboxWorker",
    "PhrService",
    "Recipient",
    "RecipientKey",
    "Requester",
    "encrypt_file",
    "parse_jwks",
]
