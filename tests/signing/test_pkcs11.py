"""Keys on a PKCS#11 token (SoftHSM2): robust selection by Vietnamese labels, PAdES
signatures that validate, the organisation seal from settings, the reference client."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from signing_testlib import USER_PASSPHRASE

from signing.errors import KeyLoadError
from signing.pades import sign_pdf_file
from signing.pkcs11_keys import (
    Pkcs11Config,
    Pkcs11SelectionError,
    pick_label,
    pkcs11_signer,
    seal_config,
)
from signing.pki import EmbeddedPki, IssuedCertificate
from signing.profiles import SigningProfile, TrustConfig
from signing.validate import validate_pdf

MODULE = "/usr/lib/softhsm/libsofthsm2.so"
TOKEN = "Token Trần Ngọc Tú"
RSA_LABEL = "TRẦN NGỌC TÚ's Viettel-CA SHA2 Certificate"
EC_LABEL = "Con dấu ECDSA của Đảng ủy Khối"
PIN = "123456"

pytestmark = pytest.mark.skipif(
    not (Path(MODULE).exists() and shutil.which("softhsm2-util"))
    or importlib.util.find_spec("pkcs11") is None,
    reason="needs SoftHSM2 (Debian package softhsm2: `make test-deps` installs it) and "
    "python-pkcs11 (requirements-dev.txt)",
)


def _ec_certificate(pki: EmbeddedPki) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC).replace(microsecond=0)
    cert = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
                    x509.NameAttribute(NameOID.COMMON_NAME, "Đảng ủy Khối (con dấu ECDSA)"),
                ]
            )
        )
        .issuer_name(pki.issuing_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, True, False, False, False, False, False, False, False), True
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(
                pki.issuing_cert.public_key()  # type: ignore[arg-type]
            ),
            critical=False,
        )
        .sign(pki.issuing_key, hashes.SHA256())
    )
    return key, cert


def _import(
    conf: Path, token: str, label: str, key_id: str, key_pem: bytes, cert: x509.Certificate
) -> None:
    """Put a key (softhsm2-util --import, PKCS#8 PEM) and its certificate on the token."""
    import pkcs11
    from pkcs11 import Attribute, CertificateType, ObjectClass

    key_file = conf.parent / f"{key_id}.pem"
    key_file.write_bytes(key_pem)
    subprocess.run(
        [
            "softhsm2-util",
            "--import",
            str(key_file),
            "--token",
            token,
            "--label",
            label,
            "--id",
            key_id,
            "--pin",
            PIN,
        ],
        check=True,
        capture_output=True,
        env={**os.environ, "SOFTHSM2_CONF": str(conf)},
    )
    key_file.unlink()
    lib = pkcs11.lib(MODULE)
    tok = lib.get_token(token_label=token)
    with tok.open(rw=True, user_pin=PIN) as session:
        session.create_object(
            {
                Attribute.CLASS: ObjectClass.CERTIFICATE,
                Attribute.CERTIFICATE_TYPE: CertificateType.X_509,
                Attribute.TOKEN: True,
                Attribute.LABEL: label,
                Attribute.ID: bytes.fromhex(key_id),
                Attribute.SUBJECT: cert.subject.public_bytes(),
                Attribute.VALUE: cert.public_bytes(serialization.Encoding.DER),
            }
        )


@pytest.fixture(scope="module")
def softhsm(
    tmp_path_factory: pytest.TempPathFactory, pki: EmbeddedPki, duc_cert: IssuedCertificate
) -> Iterator[dict[str, Any]]:
    """A SoftHSM2 token in a temporary folder with an RSA and an EC key and certificates."""
    folder = tmp_path_factory.mktemp("softhsm")
    (folder / "tokens").mkdir()
    conf = folder / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {folder / 'tokens'}\nobjectstore.backend = file\n"
        "log.level = ERROR\n"
    )
    previous = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)  # read when the module is initialised
    try:
        subprocess.run(
            ["softhsm2-util", "--init-token", "--free", "--label", TOKEN]
            + ["--so-pin", "12345678", "--pin", PIN],
            check=True,
            capture_output=True,
        )
        rsa_key = serialization.load_pem_private_key(
            duc_cert.encrypted_key_pem, USER_PASSPHRASE.encode()
        )
        assert isinstance(rsa_key, rsa.RSAPrivateKey)
        plain = serialization.PrivateFormat.PKCS8
        rsa_pem = rsa_key.private_bytes(
            serialization.Encoding.PEM, plain, serialization.NoEncryption()
        )
        rsa_cert = x509.load_pem_x509_certificate(duc_cert.cert_pem)
        _import(conf, TOKEN, RSA_LABEL, "01", rsa_pem, rsa_cert)
        ec_key, ec_cert = _ec_certificate(pki)
        ec_pem = ec_key.private_bytes(
            serialization.Encoding.PEM, plain, serialization.NoEncryption()
        )
        _import(conf, TOKEN, EC_LABEL, "02", ec_pem, ec_cert)
        yield {"conf": conf, "rsa_cert": rsa_cert, "ec_cert": ec_cert}
    finally:
        if previous is None:
            os.environ.pop("SOFTHSM2_CONF", None)
        else:
            os.environ["SOFTHSM2_CONF"] = previous


def _config(
    pki: EmbeddedPki, token: str = TOKEN, key: str = RSA_LABEL, pin: str = PIN
) -> Pkcs11Config:
    return Pkcs11Config(MODULE, token, key, pin, tuple(pki.chain_pems()))


@pytest.mark.parametrize(
    ("token_label", "key_label"),
    [
        (TOKEN, RSA_LABEL),
        ("token trần ngọc tú", "trần ngọc tú's viettel-ca sha2 certificate"),  # case
        ("Token Tra\u0302\u0300n Ngo\u0323c Tu\u0301", RSA_LABEL),  # NFD spelling
        ("Token Trần", "Viettel-CA"),  # unique prefix / substring
    ],
)
def test_signs_with_the_token_and_validates(
    softhsm: dict[str, Any],
    pki: EmbeddedPki,
    trust: TrustConfig,
    make_pdf: Callable[..., Path],
    tmp_path: Path,
    token_label: str,
    key_label: str,
) -> None:
    out = tmp_path / "signed.pdf"
    with pkcs11_signer(_config(pki, token_label, key_label)) as signer:
        sign_pdf_file(make_pdf(), out, signer, SigningProfile(field_name="ChuKyToken"))
    report = validate_pdf(out, trust)
    assert report.bottom_line, report
    (sig,) = report.signatures
    assert sig.signer_name == "Lê Văn Đức"
    assert sig.cert_fingerprint_sha256 == softhsm["rsa_cert"].fingerprint(hashes.SHA256()).hex()


def test_ecdsa_key_on_the_token(
    softhsm: dict[str, Any],
    pki: EmbeddedPki,
    trust: TrustConfig,
    make_pdf: Callable[..., Path],
    tmp_path: Path,
) -> None:
    out = tmp_path / "signed-ec.pdf"
    with pkcs11_signer(_config(pki, key=EC_LABEL)) as signer:
        sign_pdf_file(make_pdf(), out, signer, SigningProfile(field_name="DauEC"))
    report = validate_pdf(out, trust)
    assert report.bottom_line, report


def test_nothing_matches_says_what_is_there(softhsm: dict[str, Any], pki: EmbeddedPki) -> None:
    with pytest.raises(Pkcs11SelectionError) as token_error:
        with pkcs11_signer(_config(pki, token="VGCA khác")):
            pass
    assert TOKEN in str(token_error.value)
    with pytest.raises(Pkcs11SelectionError) as key_error:
        with pkcs11_signer(_config(pki, key="NGUYỄN VĂN A")):
            pass
    assert RSA_LABEL in str(key_error.value) and EC_LABEL in str(key_error.value)
    with pytest.raises(KeyLoadError, match="PinIncorrect"):
        with pkcs11_signer(_config(pki, pin="000000")):
            pass
    with pytest.raises(KeyLoadError, match="cannot load"):
        with pkcs11_signer(Pkcs11Config("/nonexistent/libnothing.so", TOKEN, RSA_LABEL, PIN)):
            pass


def test_pick_label_ambiguity() -> None:
    labels = ["Khóa ký của Trần A", "Khóa ký của Trần B"]
    with pytest.raises(Pkcs11SelectionError, match="several"):
        pick_label("Khóa ký", labels, "key")
    assert pick_label("KHÓA KÝ CỦA TRẦN B", labels, "key") == labels[1]


def test_seal_signer_from_settings(
    softhsm: dict[str, Any],
    pki: EmbeddedPki,
    trust: TrustConfig,
    make_pdf: Callable[..., Path],
    tmp_path: Path,
) -> None:
    assert seal_config({}) is None
    with pytest.raises(KeyLoadError):
        seal_config({"SEAL_PKCS11_MODULE": MODULE})
    config = seal_config(
        {
            "SEAL_PKCS11_MODULE": MODULE,
            "SEAL_PKCS11_TOKEN": TOKEN,
            "SEAL_PKCS11_KEY": EC_LABEL,
            "SEAL_PKCS11_PIN": PIN,
        },
        pki.chain_pems(),
    )
    assert config is not None
    out = tmp_path / "sealed.pdf"
    with pkcs11_signer(config) as signer:
        sign_pdf_file(make_pdf(), out, signer, SigningProfile(field_name="DauCoQuan_1"))
    assert validate_pdf(out, trust).bottom_line


def test_reference_client_signs_with_the_token(softhsm: dict[str, Any]) -> None:
    path = Path(__file__).resolve().parents[2] / "clients" / "trinhky_sign.py"
    spec = importlib.util.spec_from_file_location("trinhky_sign", path)
    assert spec is not None and spec.loader is not None
    client = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("trinhky_sign", client)  # dataclasses look their module up
    spec.loader.exec_module(client)
    data = b"signed attributes"
    key = client.load_pkcs11(MODULE, "token trần", "TRẦN NGỌC TÚ", PIN)
    try:
        signature = key.sign(data)
    finally:
        key.close()
    rsa_public = softhsm["rsa_cert"].public_key()
    rsa_public.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
    ec_key = client.load_pkcs11(MODULE, TOKEN, EC_LABEL, PIN)
    try:
        raw = ec_key.sign(data)
    finally:
        ec_key.close()
    assert len(raw) == 64  # r || s, as tokens answer; the server converts it to DER
    r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    softhsm["ec_cert"].public_key().verify(
        encode_dss_signature(r, s), data, ec.ECDSA(hashes.SHA256())
    )
    with pytest.raises(client.ClientError, match="Hiện có"):
        client.load_pkcs11(MODULE, "không có", RSA_LABEL, PIN)
