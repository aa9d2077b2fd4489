"""Tests for the /pki trust endpoints (workflow/trust_routes.py) and independent verification."""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from asn1crypto import tsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from flask import Flask
from flask.testing import FlaskClient
from signing_testlib import USER_PASSPHRASE, MemoryRevocations
from werkzeug.serving import make_server

from signing.keys import load_signer
from signing.pades import sign_pdf_file
from signing.pki import EmbeddedPki
from signing.profiles import SigningProfile, TrustConfig
from signing.trust import TrustServices
from signing.validate import validate_pdf
from workflow.signatures import trust_web as trust_routes

VERIFY_TOOL = Path("/work/shared/tools/independent_verify.py")
VERIFY_PYTHON = "/root/.cache/independent_verify/venv/bin/python"


def _app(pki: EmbeddedPki, revocations: MemoryRevocations) -> Flask:
    app = Flask(__name__)
    app.register_blueprint(trust_routes.bp)
    services = TrustServices(pki, revocations.status_of, revocations.revoked_list)
    app.extensions["trinhky"] = SimpleNamespace(trust_services=services)
    return app


@pytest.fixture
def client(pki: EmbeddedPki, revocations: MemoryRevocations) -> FlaskClient:
    return _app(pki, revocations).test_client()


def _request(pki: EmbeddedPki, cert: x509.Certificate) -> bytes:
    builder = ocsp.OCSPRequestBuilder().add_certificate(cert, pki.issuing_cert, hashes.SHA1())  # noqa: S303
    return builder.build().public_bytes(serialization.Encoding.DER)


def _cert(pki: EmbeddedPki, **kwargs: str) -> tuple[x509.Certificate, bytes, bytes]:
    issued = pki.issue_signing_certificate(
        full_name="Đỗ Thị Hồng Nhung",
        title="Chánh Văn phòng",
        unit="Văn phòng Đảng ủy Khối",
        organisation="Đảng ủy Khối Cơ quan - Doanh nghiệp tỉnh",
        passphrase=USER_PASSPHRASE,
        **kwargs,
    )
    return (
        x509.load_pem_x509_certificate(issued.cert_pem),
        issued.cert_pem,
        issued.encrypted_key_pem,
    )


def test_ocsp_post_and_get(
    client: FlaskClient, pki: EmbeddedPki, revocations: MemoryRevocations
) -> None:
    cert, _, _ = _cert(pki)
    der = _request(pki, cert)
    posted = client.post("/pki/ocsp", data=der, content_type="application/ocsp-request")
    assert posted.status_code == 200 and posted.mimetype == "application/ocsp-response"
    assert ocsp.load_der_ocsp_response(posted.data).certificate_status == ocsp.OCSPCertStatus.GOOD
    revocations.revoke(cert.serial_number, cert.not_valid_before_utc)
    got = client.get("/pki/ocsp/" + base64.b64encode(der).decode().replace("/", "%2F"))
    assert got.status_code == 200
    assert ocsp.load_der_ocsp_response(got.data).certificate_status == (ocsp.OCSPCertStatus.REVOKED)
    bad = client.get("/pki/ocsp/not-base64!")
    assert ocsp.load_der_ocsp_response(bad.data).response_status == (
        ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    )


def test_crl_tsa_and_issuing_pem(client: FlaskClient, pki: EmbeddedPki) -> None:
    crl = client.get("/pki/crl")
    assert crl.status_code == 200 and crl.mimetype == "application/pkix-crl"
    assert x509.load_der_x509_crl(crl.data).is_signature_valid(pki.issuing_cert.public_key())
    req = tsp.TimeStampReq(
        {
            "version": 1,
            "message_imprint": {
                "hash_algorithm": {"algorithm": "sha256"},
                "hashed_message": hashlib.sha256(b"x").digest(),
            },
            "cert_req": True,
        }
    )
    reply = client.post("/pki/tsa", data=req.dump(), content_type="application/timestamp-query")
    assert reply.status_code == 200 and reply.mimetype == "application/timestamp-reply"
    assert tsp.TimeStampResp.load(reply.data)["status"]["status"].native == "granted"
    pem = client.get("/pki/issuing.pem")
    assert x509.load_pem_x509_certificate(pem.data) == pki.issuing_cert


def test_a_failing_status_lookup_gives_a_well_formed_ocsp_error(pki: EmbeddedPki) -> None:
    class Broken(MemoryRevocations):
        def status_of(self, serial: int) -> Any:
            raise RuntimeError("database down")

    client = _app(pki, Broken()).test_client()
    cert, _, _ = _cert(pki)
    response = client.post("/pki/ocsp", data=_request(pki, cert))
    assert response.status_code == 200
    parsed = ocsp.load_der_ocsp_response(response.data)
    assert parsed.response_status == ocsp.OCSPResponseStatus.INTERNAL_ERROR


@pytest.fixture(scope="module")
def live_url(pki: EmbeddedPki, revocations: MemoryRevocations) -> Iterator[str]:
    """The trust endpoints on a loopback port (so pdfsig can fetch OCSP)."""
    server = make_server("127.0.0.1", 0, _app(pki, revocations), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/pki"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.mark.tools
@pytest.mark.skipif(
    not VERIFY_TOOL.exists() or shutil.which("pdfsig") is None or not Path(VERIFY_PYTHON).exists(),
    reason="independent_verify.py, pdfsig or its Python environment is missing",
)
@pytest.mark.parametrize("level", ["B-LT", "B-LTA"])
def test_independent_verify(
    level: str,
    live_url: str,
    make_pdf: Callable[..., Path],
    pki: EmbeddedPki,
    services: TrustServices,
    trust: TrustConfig,
    tmp_path: Path,
) -> None:
    _, cert_pem, key_pem = _cert(pki, ocsp_url=f"{live_url}/ocsp", crl_url=f"{live_url}/crl")
    signer = load_signer(cert_pem, key_pem, USER_PASSPHRASE, pki.chain_pems())
    src = make_pdf()
    out = tmp_path / f"{level}.pdf"
    sign_pdf_file(
        src,
        out,
        signer,
        SigningProfile(field_name="Sig-1", level=level),
        services.timestamper,
        services.revocation_source(),
    )
    (sig, *_) = validate_pdf(out, trust).signatures
    assert sig.bottom_line and sig.pades_level == level, sig.problems
    root = tmp_path / "root.pem"
    root.write_bytes(pki.root_pem())
    result = subprocess.run(
        [sys.executable, str(VERIFY_TOOL), "--python", VERIFY_PYTHON, str(out), str(root)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    print(f"independent_verify {level}:\n{result.stdout}{result.stderr}")
    assert result.returncode == 0, result.stdout + result.stderr
