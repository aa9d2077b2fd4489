"""workflow: the organisation's seal key for one signing: the encrypted key the server
stores, or the key on a PKCS#11 token or HSM (opened for the signing only)."""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import replace

from pyhanko.sign.signers import Signer

from signing.errors import KeyLoadError
from signing.keys import load_signer
from signing.pkcs11_keys import (
    Pkcs11Config,
    Pkcs11LoginError,
    Pkcs11ModuleError,
    Pkcs11SelectionError,
    pkcs11_signer,
)
from signing.profiles import TrustConfig
from storage.models import Certificate, Unit
from workflow.errors import ConflictError
from workflow.signatures.flow import SigningFailedError

_ADMIN_ADVICE = "Hãy báo quản trị kiểm tra thiết bị ký số (token/HSM) của tổ chức."


def on_token(cert: Certificate) -> bool:
    """:returns: whether a seal certificate's key is on the seal token (no stored key)."""
    return not cert.encrypted_key_pem


def _token_signer(
    stack: ExitStack,
    issuer: Unit,
    cert: Certificate,
    token: Pkcs11Config | None,
    trust: TrustConfig,
) -> Signer:
    """Open the seal token for this signing (closed when ``stack`` closes) and check that
    it holds the key of the registered certificate.

    :raises ConflictError: not configured, token or key missing, PIN refused, another key.
    """
    if token is None:
        raise ConflictError(
            f"Chữ ký số của tổ chức ({issuer.name}) nằm trên thiết bị ký số (token/HSM) "
            "nhưng máy chủ chưa được cấu hình thiết bị này. " + _ADMIN_ADVICE,
            code="seal_token_not_configured",
        )
    config = replace(token, chain_pems=trust.other_certs_pem + trust.trust_roots_pem)
    try:
        signer = stack.enter_context(pkcs11_signer(config))
    except Pkcs11SelectionError as exc:
        raise ConflictError(
            "Không tìm thấy thiết bị ký số hoặc khóa con dấu trên thiết bị "
            f"(token “{token.token_label}”, khóa “{token.key_label}”). Văn bản chưa được "
            "ban hành. " + _ADMIN_ADVICE,
            code="seal_token_missing",
        ) from exc
    except Pkcs11LoginError as exc:
        raise ConflictError(
            "Thiết bị ký số của tổ chức từ chối mã PIN (sai hoặc đã bị khóa). Văn bản chưa "
            "được ban hành. " + _ADMIN_ADVICE,
            code="seal_token_pin",
        ) from exc
    except Pkcs11ModuleError as exc:
        raise ConflictError(
            "Không nạp được thư viện PKCS#11 của thiết bị ký số. Văn bản chưa được ban hành. "
            + _ADMIN_ADVICE,
            code="seal_token_module",
        ) from exc
    except KeyLoadError as exc:
        raise ConflictError(
            "Không dùng được khóa con dấu trên thiết bị ký số. Văn bản chưa được ban hành. "
            + _ADMIN_ADVICE,
            code="seal_token_key",
        ) from exc
    on_token_cert = signer.signing_cert
    if on_token_cert is None or on_token_cert.sha256.hex() != cert.fingerprint:
        raise ConflictError(
            "Chứng thư số trên thiết bị ký số không phải chứng thư đã đăng ký cho tổ chức "
            f"({issuer.name}). Hãy đăng ký lại bằng lệnh “flask --app wsgi seal-token "
            "register”. Văn bản chưa được ban hành.",
            code="seal_token_other_certificate",
        )
    return signer


def seal_signer(
    stack: ExitStack,
    issuer: Unit,
    cert: Certificate,
    trust: TrustConfig,
    seal_passphrase: str,
    token: Pkcs11Config | None,
) -> Signer:
    """The signer of a seal certificate; a token session joins ``stack`` (closed with it).

    :raises ConflictError: the token cannot be used (explained, in Vietnamese).
    :raises SigningFailedError: the stored key cannot be decrypted.
    """
    if on_token(cert):
        return _token_signer(stack, issuer, cert, token, trust)
    try:
        return load_signer(
            cert.cert_pem.encode(),
            cert.encrypted_key_pem.encode(),
            seal_passphrase,
            trust.other_certs_pem + trust.trust_roots_pem,
        )
    except Exception as exc:  # noqa: BLE001 - any key problem is the server's, not the clerk's
        raise SigningFailedError("Không mở được khóa ký số của tổ chức. Hãy báo quản trị.") from exc
