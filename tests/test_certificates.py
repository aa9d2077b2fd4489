"""Certificate lifecycle: revoke (OCSP and CRL at once), renew, expiry warnings."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from sqlalchemy import select

from storage.models import Certificate
from storage.types import utcnow
from tests.conftest import DEMO_PASSWORD, Api
from tests.test_workflow_routes import act, upload_on
from workflow.services import Services


def bithu_cert(api: Api) -> dict:  # type: ignore[type-arg]
    certs = api.get("bithu", "/certificates").get_json()["certificates"]
    (mine,) = [c for c in certs if c["purpose"] == "personal" and c["status"] == "active"]
    return mine


def ocsp_status(api: Api, services: Services, cert_pem: str) -> ocsp.OCSPCertStatus:
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    issuer = services.trust_services.pki.issuing_cert
    request = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1()).build()  # noqa: S303
    response = api.client.post(
        "/pki/ocsp",
        data=request.public_bytes(serialization.Encoding.DER),
        content_type="application/ocsp-request",
    )
    assert response.status_code == 200
    return ocsp.load_der_ocsp_response(response.data).certificate_status


def test_revocation_shows_at_once_and_signing_is_refused(api: Api, services: Services) -> None:
    mine = bithu_cert(api)
    with services.session_factory() as s:
        pem = s.get(Certificate, mine["id"]).cert_pem  # type: ignore[union-attr]
    assert ocsp_status(api, services, pem) == ocsp.OCSPCertStatus.GOOD
    assert api.post("bithu", f"/certificates/{mine['id']}/revoke", json={}).status_code == 403
    revoked = api.post(
        "admin", f"/certificates/{mine['id']}/revoke", json={"reason": "key_compromise"}
    )
    assert revoked.status_code == 200 and revoked.get_json()["status"] == "revoked"
    assert ocsp_status(api, services, pem) == ocsp.OCSPCertStatus.REVOKED
    crl = x509.load_der_x509_crl(api.client.get("/pki/crl").data)
    assert crl.get_revoked_certificate_by_serial_number(int(mine["serial"], 16)) is not None

    doc_id = upload_on(api, route="thuong-truc-ky")
    act(api, "truongban", doc_id, "approve")
    task = api.task_for("bithu", doc_id)
    refused = api.post("bithu", f"/tasks/{task['id']}/sign", json={"passphrase": DEMO_PASSWORD})
    assert refused.status_code == 409 and "thu hồi" in refused.get_json()["detail"]

    # Renewal: a new certificate, the old one stays revoked, signing works again.
    renewed = api.post(
        "bithu", "/users/bithu/certificates/personal", json={"passphrase": "khoa-moi-2027"}
    )
    assert renewed.status_code == 201, renewed.get_json()
    ok = api.post("bithu", f"/tasks/{task['id']}/sign", json={"passphrase": "khoa-moi-2027"})
    assert ok.status_code == 200, ok.get_json()


@pytest.mark.usefixtures("clock")
def test_expiry_warning_and_expired_refusal(api: Api, services: Services) -> None:
    mine = bithu_cert(api)
    assert mine["warning"] is None
    with services.session_factory() as s:
        cert = s.get(Certificate, mine["id"])
        assert cert is not None
        cert.not_after = utcnow() + timedelta(days=10)
        s.commit()
    assert "hết hạn sau" in bithu_cert(api)["warning"]
    with services.session_factory() as s:
        cert = s.scalars(select(Certificate).where(Certificate.id == mine["id"])).one()
        cert.not_after = utcnow() - timedelta(minutes=1)
        s.commit()
    doc_id = upload_on(api, route="thuong-truc-ky")
    act(api, "truongban", doc_id, "approve")
    task = api.task_for("bithu", doc_id)
    refused = api.post("bithu", f"/tasks/{task['id']}/sign", json={"passphrase": DEMO_PASSWORD})
    assert refused.status_code == 409 and "hết hạn" in refused.get_json()["detail"]


def test_only_admins_issue_for_others_and_passphrase_rules(api: Api) -> None:
    assert (
        api.post(
            "truongban", "/users/bithu/certificates/personal", json={"passphrase": "x" * 12}
        ).status_code
        == 403
    )
    assert (
        api.post(
            "admin", "/users/bithu/certificates/personal", json={"passphrase": "short"}
        ).status_code
        == 422
    )
    assert (
        api.post(
            "admin", "/users/chuyenvien/certificates/personal", json={"passphrase": "x" * 12}
        ).status_code
        == 409
    )
    listed = api.get("chuyenvien", "/certificates").get_json()["certificates"]
    assert listed == []
