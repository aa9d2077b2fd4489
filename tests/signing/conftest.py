"""Fixtures for the signing tests: an embedded test PKI, signers and small PDFs."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

_REPO_ROOT = str(Path(__file__).resolve().parents[2])
if _REPO_ROOT not in sys.path:  # until pytest's pythonpath = ["."] is configured
    sys.path.insert(0, _REPO_ROOT)

from signing_testlib import (  # noqa: E402
    CA_PASSPHRASE,
    USER_PASSPHRASE,
    MemoryRevocations,
    make_pdf_bytes,
)

from signing.keys import LoadedKeySigner, load_signer  # noqa: E402
from signing.pki import EmbeddedPki, IssuedCertificate  # noqa: E402
from signing.profiles import TrustConfig  # noqa: E402
from signing.trust import TrustServices  # noqa: E402


@pytest.fixture(scope="session")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Directory holding the session's test PKI."""
    directory = tmp_path_factory.mktemp("pki") / "ca"
    EmbeddedPki.create(directory, CA_PASSPHRASE)
    return directory


@pytest.fixture(scope="session")
def pki(pki_dir: Path) -> EmbeddedPki:
    """The session's test PKI, loaded from disk."""
    return EmbeddedPki.load(pki_dir, CA_PASSPHRASE)


@pytest.fixture(scope="session")
def other_pki(tmp_path_factory: pytest.TempPathFactory) -> EmbeddedPki:
    """An unrelated PKI, for untrusted-root tests."""
    return EmbeddedPki.create(tmp_path_factory.mktemp("other") / "ca", b"other", "Tổ chức khác")


@pytest.fixture(scope="session")
def duc_cert(pki: EmbeddedPki) -> IssuedCertificate:
    """Certificate of the first signer, 'Lê Văn Đức'."""
    return pki.issue_signing_certificate(
        full_name="Lê Văn Đức",
        title="Phó Bí thư Thường trực",
        unit="Thường trực Đảng ủy Khối",
        organisation="Đảng ủy Khối Cơ quan - Doanh nghiệp tỉnh",
        passphrase=USER_PASSPHRASE,
        email="duc@example.vn",
    )


@pytest.fixture(scope="session")
def duc_signer(pki: EmbeddedPki, duc_cert: IssuedCertificate) -> LoadedKeySigner:
    """Signer for 'Lê Văn Đức'."""
    return load_signer(
        duc_cert.cert_pem, duc_cert.encrypted_key_pem, USER_PASSPHRASE, pki.chain_pems()
    )


@pytest.fixture(scope="session")
def clerk_signer(pki: EmbeddedPki) -> LoadedKeySigner:
    """Signer for the clerk who adds the second signature (the seal)."""
    cert = pki.issue_signing_certificate(
        full_name="Trần Thị Ngọc Ánh",
        title="Văn thư",
        unit="Văn phòng Đảng ủy Khối",
        organisation="Đảng ủy Khối Cơ quan - Doanh nghiệp tỉnh",
        passphrase="vt",
    )
    return load_signer(cert.cert_pem, cert.encrypted_key_pem, "vt", pki.chain_pems())


@pytest.fixture(scope="session")
def trust(pki: EmbeddedPki) -> TrustConfig:
    """Trust configuration for the session PKI."""
    return TrustConfig(trust_roots_pem=(pki.root_pem(),), other_certs_pem=(pki.chain_pems()[0],))


@pytest.fixture
def make_pdf(tmp_path: Path) -> Callable[..., Path]:
    """Write a small PDF into ``tmp_path`` and return its path."""

    def _make(name: str = "input.pdf", text: str = "Van ban thu nghiem", pages: int = 1) -> Path:
        path = tmp_path / name
        path.write_bytes(make_pdf_bytes(text, pages))
        return path

    return _make


@pytest.fixture
def signed_at() -> datetime:
    """A fixed signing time for stamps."""
    return datetime(2026, 11, 27, 14, 6, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def revocations() -> MemoryRevocations:
    """The session's revocation 'database' (tests revoke their own certificates only)."""
    return MemoryRevocations()


@pytest.fixture(scope="session")
def services(pki: EmbeddedPki, revocations: MemoryRevocations) -> TrustServices:
    """The embedded TSA, OCSP responder and CRL issuer of the session PKI."""
    return TrustServices(pki, revocations.status_of, revocations.revoked_list)
