"""Ed25519 keys for receipts: load or generate the private key, name and publish the
public one, sign and check ODR v0.2 signatures.

A v0.2 signature covers the document's digest *and* its own metadata: the signed message
is the JCS bytes of ``{"odr_digest": D, "odr_signature_input": "0.2", "protected": P}``
where ``P`` is the signature entry without ``signature`` (``alg``, ``key_id``, ``issuer``,
``role``, ``signed_at``), so none of those can be changed without breaking it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from aragora.errors import ConfigurationError, InvalidInputError
from aragora.receipts.jcs import canonicalize

__all__ = [
    "ALGORITHM",
    "GENERATED_KEY_FILE",
    "SIGNATURE_INPUT",
    "PublicKey",
    "SigningKey",
    "ensure_signing_key",
    "key_id_of",
    "load_public_key",
    "load_signing_key",
    "signature_message",
    "signature_verifies",
]

ALGORITHM = "Ed25519"
SIGNATURE_INPUT = "0.2"
GENERATED_KEY_FILE = "receipt_signing_key.pem"


def key_id_of(public_key: Ed25519PublicKey) -> str:
    """``ed25519-`` and the first 16 hex digits of SHA-256 over the raw 32-byte key."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "ed25519-" + hashlib.sha256(raw).hexdigest()[:16]


def signature_message(digest: str, protected: Mapping[str, Any]) -> bytes:
    """The bytes a v0.2 signature entry signs (see the module docstring)."""
    return canonicalize(
        {"odr_digest": digest, "odr_signature_input": SIGNATURE_INPUT, "protected": protected}
    )


@dataclass(frozen=True, slots=True)
class PublicKey:
    """A published verification key."""

    key: Ed25519PublicKey

    @property
    def key_id(self) -> str:
        return key_id_of(self.key)

    @property
    def pem(self) -> str:
        """SubjectPublicKeyInfo PEM, as ``aragora-verify --pubkey`` reads it."""
        return self.key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode("ascii")

    def to_dict(self) -> dict[str, str]:
        """``{"algorithm", "key_id", "public_key_pem"}`` (the signing-key endpoint's body)."""
        return {"algorithm": ALGORITHM, "key_id": self.key_id, "public_key_pem": self.pem}


class SigningKey:
    """The private key receipts are signed with, and where it came from."""

    def __init__(self, private_key: Ed25519PrivateKey, *, path: Path | None = None) -> None:
        self._private = private_key
        self.path = path
        self.public = PublicKey(private_key.public_key())

    @classmethod
    def generate(cls) -> SigningKey:
        """A fresh key held in memory only (tests, previews)."""
        return cls(Ed25519PrivateKey.generate())

    @property
    def key_id(self) -> str:
        return self.public.key_id

    def sign(self, digest: str, *, issuer: str, signed_at: str) -> dict[str, str]:
        """The v0.2 signature entry over ``digest``: role ``emitter``, base64 signature."""
        protected = {
            "alg": ALGORITHM,
            "key_id": self.key_id,
            "issuer": issuer,
            "role": "emitter",
            "signed_at": signed_at,
        }
        signature = self._private.sign(signature_message(digest, protected))
        return {**protected, "signature": base64.b64encode(signature).decode("ascii")}

    def private_pem(self) -> bytes:
        """Unencrypted PKCS#8 PEM (what ``ARAGORA_RECEIPT_SIGNING_KEY_FILE`` holds)."""
        return self._private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def __repr__(self) -> str:  # never the secret
        return f"SigningKey(key_id={self.key_id!r}, path={self.path!r})"


def signature_verifies(entry: Mapping[str, Any], digest: str, public_key: PublicKey) -> bool:
    """Whether v0.2 signature ``entry`` is ``public_key``'s signature over ``digest`` and
    its protected members, under that key's id."""
    if entry.get("alg") != ALGORITHM or entry.get("key_id") != public_key.key_id:
        return False
    encoded = entry.get("signature")
    if not isinstance(encoded, str):
        return False
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return False
    protected = {k: v for k, v in entry.items() if k != "signature"}
    try:
        public_key.key.verify(raw, signature_message(digest, protected))
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def load_public_key(data: bytes) -> PublicKey:
    """An Ed25519 public key from PEM (SubjectPublicKeyInfo); :class:`InvalidInputError`
    for anything else."""
    try:
        key = serialization.load_pem_public_key(data.strip())
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise InvalidInputError("not a PEM public key") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise InvalidInputError(f"not an Ed25519 public key ({type(key).__name__})")
    return PublicKey(key)


def load_signing_key(path: Path) -> SigningKey:
    """The Ed25519 PKCS#8 PEM private key in ``path``; :class:`ConfigurationError` naming
    the file when it is missing, unreadable, encrypted or not Ed25519."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(
            f"cannot read the receipt signing key {path}: {exc.strerror or exc}"
        ) from exc
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ConfigurationError(
            f"the receipt signing key {path} is not an unencrypted PKCS#8 PEM private key"
        ) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigurationError(
            f"the receipt signing key {path} is {type(key).__name__}, not Ed25519"
        )
    return SigningKey(key, path=path)


def ensure_signing_key(configured: Path | None, data_dir: Path) -> SigningKey:
    """The key in ``configured`` (``ARAGORA_RECEIPT_SIGNING_KEY_FILE``) if given; else the
    one in ``<data_dir>/receipt_signing_key.pem``, generated there (mode 0600, directory
    created) the first time.

    Safe when several processes start at once: the file appears complete or not at all
    (written aside, then hard-linked into place), and a loser of the race uses the
    winner's key."""
    if configured is not None:
        return load_signing_key(configured)
    path = data_dir / GENERATED_KEY_FILE
    if path.exists():
        _keep_private(path)
        return load_signing_key(path)
    key = SigningKey.generate()
    aside = data_dir / f".{GENERATED_KEY_FILE}.{os.getpid()}.{os.urandom(4).hex()}"
    try:
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(key.private_pem())
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(aside, path)
        except FileExistsError:  # another process won: use its key
            return load_signing_key(path)
    except OSError as exc:
        raise ConfigurationError(
            f"cannot write the receipt signing key {path}: {exc.strerror or exc}"
        ) from exc
    finally:
        aside.unlink(missing_ok=True)
    key.path = path
    return key


def _keep_private(path: Path) -> None:
    try:
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)  # someone loosened it; a private key stays private
    except OSError:
        pass  # reading it will report the problem
