#!/usr/bin/env python3
"""TrinhKy reference client: sign a task's document with a key that never leaves the
holder's machine (a .p12 file or a PKCS#11 token such as a VGCA / Viettel-CA USB token).

    python clients/trinhky_sign.py --server URL --user U --password P --task ID \\
        (--p12 FILE --p12-password PW | --pkcs11-lib LIB --token-label L --key-label K --pin PIN)

Steps: POST /api/v1/auth/token → POST /api/v1/tasks/ID/external/prepare (with the
certificate read from the key store) → sign ``data_to_sign_b64`` locally (RSA PKCS#1 v1.5
or ECDSA, SHA-256) → POST /api/v1/external/SESSION/complete → print the result.

Needs: requests, cryptography; python-pkcs11 for tokens. Exit status 0 on success, 1 when
the server refuses (its Vietnamese message is printed), 2 on a local problem.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12


class ClientError(Exception):
    """A local problem (key store, arguments); the message is for the person signing."""


class ServerRefused(Exception):
    """The server answered with an error (problem+json)."""

    def __init__(self, status: int, detail: str, code: str | None) -> None:
        super().__init__(f"HTTP {status} [{code}]: {detail}")
        self.status = status
        self.detail = detail
        self.code = code


@dataclass
class LocalKey:
    """A certificate and a function that signs bytes with its key (SHA-256)."""

    cert: x509.Certificate
    sign: Callable[[bytes], bytes]
    close: Callable[[], None] = lambda: None


def normalise(label: str) -> str:
    """Labels compared the way people read them: NFC, case-folded, spaces collapsed."""
    return " ".join(unicodedata.normalize("NFC", label).casefold().split())


def pick(wanted: str, labels: Sequence[str], what: str) -> str:
    """Choose a label: exact (normalised), else a unique prefix (PKCS#11 token labels are
    cut at 32 bytes), else a unique substring. Says what exists when nothing matches."""
    target = normalise(wanted)
    labels = list(dict.fromkeys(labels))
    exact = [lbl for lbl in labels if normalise(lbl) == target]
    if exact:
        return exact[0]
    for test in (
        lambda n: target.startswith(n) or n.startswith(target),
        lambda n: target in n,
    ):
        found = [lbl for lbl in labels if normalise(lbl) and test(normalise(lbl))]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise ClientError(f"Nhiều {what} khớp với «{wanted}»: {found}. Hãy ghi rõ hơn.")
    raise ClientError(f"Không tìm thấy {what} «{wanted}». Hiện có: {list(labels) or 'không có'}.")


def _signer_for(key: Any) -> Callable[[bytes], bytes]:
    if isinstance(key, rsa.RSAPrivateKey):
        return lambda data: key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return lambda data: key.sign(data, ec.ECDSA(hashes.SHA256()))
    raise ClientError("Chỉ hỗ trợ khóa RSA hoặc ECDSA.")


def load_p12(path: Path, password: str) -> LocalKey:
    """The key and certificate of a PKCS#12 file."""
    try:
        key, cert, _extra = pkcs12.load_key_and_certificates(
            path.read_bytes(), password.encode() if password else None
        )
    except (OSError, ValueError) as exc:
        raise ClientError(f"Không mở được tệp .p12 {path} (sai mật khẩu?): {exc}") from exc
    if key is None or cert is None:
        raise ClientError(f"Tệp .p12 {path} không chứa khóa và chứng thư số.")
    return LocalKey(cert, _signer_for(key))


def load_pkcs11(lib_path: str, token_label: str, key_label: str, pin: str) -> LocalKey:
    """A private key on a PKCS#11 token and its certificate (same CKA_ID, else same label)."""
    try:
        import pkcs11
        from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
    except ImportError as exc:
        raise ClientError(
            "Cần gói python-pkcs11 để dùng thiết bị ký (pip install python-pkcs11)."
        ) from exc
    try:
        lib = pkcs11.lib(lib_path)
        tokens = {}
        for slot in lib.get_slots(token_present=True):
            token = slot.get_token()
            tokens[str(token.label).strip()] = token
    except Exception as exc:  # noqa: BLE001 - library load or enumeration failures
        raise ClientError(f"Không nạp được thư viện PKCS#11 {lib_path}: {exc}") from exc
    token = tokens[pick(token_label, list(tokens), "thiết bị ký (token)")]
    try:
        session = token.open(user_pin=pin)
    except Exception as exc:  # noqa: BLE001 - PinIncorrect, PinLocked...
        raise ClientError(
            f"Không mở được thiết bị ký «{token.label}»: {type(exc).__name__}"
        ) from exc

    def label_of(obj: Any) -> str:
        try:
            return str(obj[Attribute.LABEL])
        except Exception:  # noqa: BLE001 - objects without a label
            return ""

    keys: list[Any] = list(session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY}))
    certs: list[Any] = list(session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE}))
    labels = [label_of(k) for k in keys] + [label_of(c) for c in certs]
    chosen = pick(key_label, labels, "khóa hoặc chứng thư trên thiết bị")
    key = next((k for k in keys if label_of(k) == chosen), None)
    cert_obj = next((c for c in certs if label_of(c) == chosen), None)
    if key is None and cert_obj is not None:
        key = next((k for k in keys if k[Attribute.ID] == cert_obj[Attribute.ID]), None)
    if key is not None and cert_obj is None:
        cert_obj = next((c for c in certs if c[Attribute.ID] == key[Attribute.ID]), None)
    if key is None or cert_obj is None:
        session.close()
        raise ClientError(
            f"Trên thiết bị có «{chosen}» nhưng không tìm thấy cặp khóa và chứng thư số cùng ID."
        )
    cert = x509.load_der_x509_certificate(bytes(cert_obj[Attribute.VALUE]))
    key_type = key[Attribute.KEY_TYPE]

    def sign(data: bytes) -> bytes:
        if key_type == KeyType.EC:  # sign the digest: SoftHSM2 2.6 lacks ECDSA_SHA256
            return bytes(key.sign(hashlib.sha256(data).digest(), mechanism=Mechanism.ECDSA))
        return bytes(key.sign(data, mechanism=Mechanism.SHA256_RSA_PKCS))

    return LocalKey(cert, sign, session.close)


def _check(response: requests.Response) -> dict[str, Any]:
    if response.ok:
        body: dict[str, Any] = response.json()
        return body
    try:
        problem = response.json()
    except ValueError:
        problem = {"detail": response.text[:500]}
    raise ServerRefused(response.status_code, str(problem.get("detail")), problem.get("code"))


def sign_task(
    http: Any,
    server: str,
    user: str,
    password: str,
    task_id: int,
    key: LocalKey,
    chain_pems: Sequence[str] = (),
) -> dict[str, Any]:
    """Log in, prepare, sign locally and complete; ``http`` is a ``requests.Session``-like
    object (``post(url, json=..., headers=...)``), injectable for tests.

    :returns: the server's answer to the completion.
    """
    api = server.rstrip("/") + "/api/v1"
    token = _check(
        http.post(f"{api}/auth/token", json={"username": user, "password": password}, timeout=60)
    )["token"]
    auth = {"Authorization": f"Bearer {token}"}
    cert_pem = key.cert.public_bytes(serialization.Encoding.PEM).decode()
    prepared = _check(
        http.post(
            f"{api}/tasks/{task_id}/external/prepare",
            json={"certificate_pem": cert_pem, "chain_pem": list(chain_pems)},
            headers=auth,
            timeout=120,
        )
    )
    if prepared.get("digest_algorithm") != "sha256":
        raise ClientError(f"Thuật toán băm không hỗ trợ: {prepared.get('digest_algorithm')}")
    signature = key.sign(base64.b64decode(prepared["data_to_sign_b64"]))
    return _check(
        http.post(
            f"{api}/external/{prepared['session_id']}/complete",
            json={"signature_b64": base64.b64encode(signature).decode()},
            headers=auth,
            timeout=300,
        )
    )


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Ký văn bản TrinhKy bằng khóa trên máy của bạn.")
    p.add_argument("--server", required=True, help="e.g. https://trinhky.example.vn")
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--task", required=True, type=int, help="id of the sign task")
    p.add_argument("--chain", type=Path, help="PEM file with the issuing chain (optional)")
    p.add_argument("--p12", type=Path)
    p.add_argument("--p12-password", default="")
    p.add_argument("--pkcs11-lib", help="e.g. /usr/lib/softhsm/libsofthsm2.so")
    p.add_argument("--token-label")
    p.add_argument("--key-label", help="label of the private key or of its certificate")
    p.add_argument("--pin")
    return p


def _chain(path: Path | None) -> list[str]:
    if path is None:
        return []
    certs = x509.load_pem_x509_certificates(path.read_bytes())
    return [c.public_bytes(serialization.Encoding.PEM).decode() for c in certs]


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.p12 is not None:
            key = load_p12(args.p12, args.p12_password)
        elif args.pkcs11_lib:
            if not (args.token_label and args.key_label and args.pin is not None):
                raise ClientError("Với --pkcs11-lib cần --token-label, --key-label và --pin.")
            key = load_pkcs11(args.pkcs11_lib, args.token_label, args.key_label, args.pin)
        else:
            raise ClientError("Chọn --p12 hoặc --pkcs11-lib.")
        try:
            with requests.Session() as http:
                result = sign_task(
                    http, args.server, args.user, args.password, args.task, key, _chain(args.chain)
                )
        finally:
            key.close()
    except ClientError as exc:
        print(f"Lỗi: {exc}", file=sys.stderr)
        return 2
    except ServerRefused as exc:
        print(f"Máy chủ từ chối: {exc}", file=sys.stderr)
        return 1
    except requests.RequestException as exc:
        print(f"Không kết nối được máy chủ: {exc}", file=sys.stderr)
        return 2
    validation = result.get("validation", {})
    signers = [s.get("signer_name") for s in validation.get("signatures", [])]
    print(
        json.dumps(
            {
                "document": result["document"]["id"],
                "state": result["document"]["state"],
                "signature": result["signature"],
                "verdict": validation.get("verdict"),
                "signers": signers,
            },
            ensure_ascii=False,
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
