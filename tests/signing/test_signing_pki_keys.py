"""Tests for signing.pki and signing.keys: the embedded CA and signer loading."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID
from signing_testlib import CA_PASSPHRASE, USER_PASSPHRASE

from signing.errors import KeyLoadError, WrongPassphraseError
from signing.keys import LoadedKeySigner, load_signer
from signing.pki import EmbeddedPki, IssuedCertificate


def test_create_writes_files_and_load_round_trips(pki_dir: Path, pki: EmbeddedPki) -> None:
    assert EmbeddedPki.exists(pki_dir)
    for name in ("root.key.pem", "issuing.key.pem"):
        assert stat.S_IMODE((pki_dir / name).stat().st_mode) == 0o600
    assert not list(pki_dir.glob(".*.tmp"))
    root_cn = pki.root_cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert str(root_cn).startswith("TrinhKy Root CA - Đảng ủy Khối")
    assert pki.issuing_cert.issuer == pki.root_cert.subject
    assert pki.chain_pems() == [
        pki.issuing_cert.public_bytes(serialization.Encoding.PEM),
        pki.root_pem(),
    ]
    basic = pki.issuing_cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert basic.ca and basic.path_length == 0


def test_load_with_wrong_ca_passphrase(pki_dir: Path) -> None:
    with pytest.raises(WrongPassphraseError):
        EmbeddedPki.load(pki_dir, b"not the passphrase")


def test_load_missing_directory(tmp_path: Path) -> None:
    assert not EmbeddedPki.exists(tmp_path / "none")
    with pytest.raises(KeyLoadError):
        EmbeddedPki.load(tmp_path / "none", CA_PASSPHRASE)


def test_create_refuses_to_overwrite(pki_dir: Path) -> None:
    before = (pki_dir / "root.pem").read_bytes()
    with pytest.raises(FileExistsError):
        EmbeddedPki.create(pki_dir, CA_PASSPHRASE)
    assert (pki_dir / "root.pem").read_bytes() == before


def test_signing_certificate_profile(duc_cert: IssuedCertificate, pki: EmbeddedPki) -> None:
    cert = x509.load_pem_x509_certificate(duc_cert.cert_pem)
    cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0]
    assert cn.value == "Lê Văn Đức"
    assert cn._type.name == "UTF8String"
    assert "CN=Lê Văn Đức" in duc_cert.subject
    assert cert.subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)[0].value == "VN"
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical
    assert ku.value.content_commitment and ku.value.digital_signature
    assert not ku.value.key_cert_sign
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
    with pytest.raises(x509.ExtensionNotFound):
        cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess)
    assert cert.issuer == pki.issuing_cert.subject
    assert duc_cert.serial == cert.serial_number
    assert len(duc_cert.fingerprint_sha256) == 64
    assert duc_cert.not_before.tzinfo is not None and duc_cert.not_after > duc_cert.not_before
    assert duc_cert.encrypted_key_pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")


def test_load_signer(duc_signer: LoadedKeySigner) -> None:
    assert duc_signer.signing_cert.subject.native["common_name"] == "Lê Văn Đức"


def test_load_signer_wrong_passphrase(duc_cert: IssuedCertificate, pki: EmbeddedPki) -> None:
    with pytest.raises(WrongPassphraseError):
        load_signer(duc_cert.cert_pem, duc_cert.encrypted_key_pem, "sai", pki.chain_pems())


def test_load_signer_garbage_key(duc_cert: IssuedCertificate, pki: EmbeddedPki) -> None:
    with pytest.raises(KeyLoadError) as info:
        load_signer(duc_cert.cert_pem, b"garbage", USER_PASSPHRASE, pki.chain_pems())
    assert not isinstance(info.value, WrongPassphraseError)


def test_load_signer_mismatched_key(duc_cert: IssuedCertificate, pki: EmbeddedPki) -> None:
    other = pki.issue_signing_certificate(
        full_name="Nguyễn Văn A",
        title="Chuyên viên",
        unit="Ban Tổ chức",
        organisation="Đảng ủy Khối",
        passphrase=USER_PASSPHRASE,
    )
    with pytest.raises(KeyLoadError, match="does not match"):
        load_signer(duc_cert.cert_pem, other.encrypted_key_pem, USER_PASSPHRASE, pki.chain_pems())


def test_load_signer_garbage_certificate(duc_cert: IssuedCertificate, pki: EmbeddedPki) -> None:
    with pytest.raises(KeyLoadError):
        load_signer(b"not a cert", duc_cert.encrypted_key_pem, USER_PASSPHRASE, pki.chain_pems())


def test_a_wrong_passphrase_that_decrypts_to_garbage_is_still_a_wrong_passphrase(
    duc_cert: IssuedCertificate, monkeypatch: pytest.MonkeyPatch
) -> None:
    # About one wrong passphrase in 256 gives valid CBC padding; the "key" then fails to
    # parse. That is a wrong passphrase (the envelope is sound), not a corrupt key.
    from cryptography.hazmat.primitives import serialization

    from signing.keys import decrypt_private_key

    def garbage(*_args: object, **_kwargs: object) -> None:
        raise ValueError("Could not deserialize key data. ASN.1 parsing error: invalid length")

    monkeypatch.setattr(serialization, "load_pem_private_key", garbage)
    with pytest.raises(WrongPassphraseError):
        decrypt_private_key(duc_cert.encrypted_key_pem, b"sai")
    from asn1crypto import pem

    _type, _headers, der = pem.unarmor(duc_cert.encrypted_key_pem)
    damaged = pem.armor("ENCRYPTED PRIVATE KEY", der[: len(der) // 2])  # cut in half
    with pytest.raises(KeyLoadError) as info:
        decrypt_private_key(damaged, b"sai")
    assert not isinstance(info.value, WrongPassphraseError)
