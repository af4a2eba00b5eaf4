"""Signing keys: where they come from, how they are named, and rotation keeping every
earlier key published so older receipts stay verifiable."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from aragora_verify import compute_key_id
from aragora_verify import load_public_key as verifier_key
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from aragora.errors import ConfigurationError, InvalidInputError, NotFoundError
from aragora.receipts.signing import (
    GENERATED_KEY_FILE,
    SigningKey,
    ensure_signing_key,
    load_public_key,
    load_signing_key,
)

from .support import assert_verifies, new_storage, receipt_node, receipts_of, run_debate


def test_a_key_is_generated_into_the_data_dir_once_and_kept_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = ensure_signing_key(None, data_dir)
    path = data_dir / GENERATED_KEY_FILE
    assert first.path == path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert [p.name for p in data_dir.iterdir()] == [GENERATED_KEY_FILE]  # nothing left aside
    path.chmod(0o644)
    again = ensure_signing_key(None, data_dir)
    assert again.key_id == first.key_id
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_the_configured_key_file_wins(tmp_path: Path) -> None:
    key = SigningKey.generate()
    configured = tmp_path / "mine.pem"
    configured.write_bytes(key.private_pem())
    loaded = ensure_signing_key(configured, tmp_path / "data")
    assert loaded.key_id == key.key_id
    assert not (tmp_path / "data").exists()


def test_key_ids_match_the_public_verifier(tmp_path: Path) -> None:
    key = SigningKey.generate()
    assert key.key_id == compute_key_id(verifier_key(key.public.pem.encode()))
    assert key.key_id.startswith("ed25519-")
    assert len(key.key_id) == len("ed25519-") + 16
    assert load_public_key(key.public.pem.encode()).key_id == key.key_id
    assert key.public.to_dict() == {
        "algorithm": "Ed25519",
        "key_id": key.key_id,
        "public_key_pem": key.public.pem,
    }
    assert "PRIVATE" not in repr(key)


def test_unusable_key_files_fail_loudly(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read"):
        load_signing_key(tmp_path / "missing.pem")
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a key")
    with pytest.raises(ConfigurationError, match="not an unencrypted PKCS#8"):
        load_signing_key(garbage)
    ec = tmp_path / "ec.pem"
    ec.write_bytes(
        generate_private_key(SECP256R1()).private_bytes(
            Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()
        )
    )
    with pytest.raises(ConfigurationError, match="not Ed25519"):
        load_signing_key(ec)
    with pytest.raises(InvalidInputError):
        load_public_key(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")


async def test_a_bad_key_file_stops_the_node_from_starting(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="receipt signing key"):
        async with receipt_node(
            tmp_path, ARAGORA_RECEIPT_SIGNING_KEY_FILE=str(tmp_path / "missing.pem")
        ):
            pass


async def test_rotation_keeps_old_keys_published_and_old_receipts_verifiable(
    tmp_path: Path,
) -> None:
    storage = new_storage()
    async with receipt_node(tmp_path / "data", storage=storage) as node:
        old = receipts_of(node)
        first = await run_debate(node)
    rotated = SigningKey.generate()
    key_file = tmp_path / "rotated.pem"
    key_file.write_bytes(rotated.private_pem())
    async with receipt_node(
        tmp_path / "data", storage=storage, ARAGORA_RECEIPT_SIGNING_KEY_FILE=str(key_file)
    ) as node:
        new = receipts_of(node)
        second = await run_debate(node)
        assert new.key.key_id == rotated.key_id != old.key.key_id
        published = [key.key_id for key in await new.public_keys()]
        assert published == [old.key.key_id, rotated.key_id]
        old_public = await new.public_key(old.key.key_id)
        assert (await new.public_key()).key_id == rotated.key_id
        with pytest.raises(NotFoundError):
            await new.public_key("ed25519-0000000000000000")
        report = await new.verify_chain()
        first_receipt = (await new.get(first["receipt"]["id"])).document
        second_receipt = (await new.get(second["receipt"]["id"])).document
    assert report.ok, report.problems
    assert first["receipt"]["key_id"] == old.key.key_id
    assert second["receipt"]["key_id"] == rotated.key_id
    assert_verifies(first_receipt, old_public.pem, tmp_path)
    assert_verifies(second_receipt, rotated.public.pem, tmp_path)
