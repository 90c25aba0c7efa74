"""Encryption at rest for credentials (Fernet, with key rotation).

``FIELD_ENCRYPTION_KEYS`` lists Fernet keys, newest first: the first encrypts,
all decrypt. To rotate, put a new key in front and run
``manage.py rotate_credentials``, which re-encrypts every stored secret with it;
then the old key can be dropped.
"""

from __future__ import annotations

import base64
import hashlib
import json
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class CredentialError(Exception):
    """A stored secret cannot be decrypted with the configured keys."""


def _development_key() -> bytes:
    digest = hashlib.sha256(
        b"testenv-credentials:" + settings.SECRET_KEY.encode()
    ).digest()
    return base64.urlsafe_b64encode(digest)


@lru_cache(maxsize=8)
def _fernet(keys: tuple[str, ...], dev_key: bytes) -> MultiFernet:
    fernets = [Fernet(key.encode()) for key in keys] if keys else [Fernet(dev_key)]
    return MultiFernet(fernets)


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS), _development_key())


def encrypt_text(value: str) -> str:
    return fernet().encrypt(value.encode()).decode()


def decrypt_text(token: str) -> str:
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise CredentialError(
            "stored secret cannot be decrypted with FIELD_ENCRYPTION_KEYS"
        ) from exc


def encrypt_json(value: dict) -> str:
    return encrypt_text(json.dumps(value, sort_keys=True))


def decrypt_json(token: str) -> dict:
    return json.loads(decrypt_text(token))


def rotate_token(token: str) -> str:
    """Re-encrypt ``token`` with the newest key (decrypting with any key)."""
    try:
        return fernet().rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise CredentialError(
            "stored secret cannot be decrypted with FIELD_ENCRYPTION_KEYS"
        ) from exc
