"""Benchmark 4: validating one signature (B-LT once signing/ supports it, else B-B)."""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import Any

from bench.common import (
    Variant,
    make_pdf_bytes,
    make_pki,
    ratio,
    stamp_profile,
    summarise,
    time_interleaved,
    trinhky_signer,
)

NAME = "validate"
TITLE = "Validation of one signature on a 1-page PDF: signing.validate vs pyHanko direct"


def _profile_fields() -> set[str]:
    from signing.profiles import SigningProfile

    return {f.name for f in dataclasses.fields(SigningProfile)}


def _make_timestamper(bp: Any) -> Any:
    """An in-process TSA (DummyTimeStamper) with a certificate from the bench CA."""
    from datetime import UTC, datetime, timedelta

    from asn1crypto import keys as asn1_keys
    from asn1crypto import x509 as asn1_x509
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    from pyhanko.sign.timestamps import DummyTimeStamper
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    from bench.common import CA_PASSPHRASE

    ca_dir = bp.directory / "ca"
    issuing = x509.load_pem_x509_certificate((ca_dir / "issuing.pem").read_bytes())
    ca_key = serialization.load_pem_private_key(
        (ca_dir / "issuing.key.pem").read_bytes(), CA_PASSPHRASE
    )
    tsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.now(UTC) - timedelta(minutes=5)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "TrinhKy bench TSA")]))
        .issuer_name(issuing.subject)
        .public_key(tsa_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    tsa_cert = asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
    tsa_priv = asn1_keys.PrivateKeyInfo.load(
        tsa_key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    chain = [asn1_x509.Certificate.load(issuing.public_bytes(serialization.Encoding.DER))]
    return DummyTimeStamper(
        tsa_cert=tsa_cert,
        tsa_key=tsa_priv,
        certs_to_embed=SimpleCertificateStore.from_certs(chain),  # type: ignore[no-untyped-call]
    )


def _trust_services(bp: Any) -> tuple[Any, Any]:
    """The in-process TSA and revocation source of ``signing.trust`` (all certificates good).

    Falls back to a DummyTimeStamper without revocation data when ``signing.trust``
    does not exist (then B-LT signing reports what is missing and B-B is measured).
    """
    try:
        from signing.revocation import CertStatus
        from signing.trust import TrustServices
    except ImportError:
        return _make_timestamper(bp), None
    services = TrustServices(
        bp.pki, status_of=lambda _serial: CertStatus(revoked=False), revoked=lambda: []
    )
    return services.timestamper, services.revocation_source()


def _sign_at_best_level(bp: Any, in_path: Path, out_path: Path) -> tuple[str, str]:
    """Sign B-LT when ``SigningProfile`` has a ``level`` field and it works, else B-B.

    :returns: the requested level and a note for the output.
    """
    from signing.pades import sign_pdf_file

    signer = trinhky_signer(bp)
    base = stamp_profile("Sig1", visible=False)
    if "level" in _profile_fields():
        try:
            profile = dataclasses.replace(base, level="B-LT")  # type: ignore[call-arg]
            timestamper, revocation = _trust_services(bp)
            sign_pdf_file(  # type: ignore[call-arg]
                in_path, out_path, signer, profile, timestamper=timestamper, revocation=revocation
            )
            return "B-LT", "B-LT via SigningProfile.level + signing.trust.TrustServices"
        except Exception as exc:  # the API is being extended: fall back and say why
            note = (
                f"SigningProfile has 'level' but B-LT signing failed here "
                f"({type(exc).__name__}: {exc}); measured B-B instead"
            )
    else:
        note = "B-LT not available yet in signing/ (SigningProfile has no 'level'): measured B-B"
    sign_pdf_file(in_path, out_path, signer, base)
    return "B-B", note


def run(quick: bool) -> dict[str, Any]:
    """Run the benchmark; :returns: the result dictionary."""
    from asn1crypto import pem as asn1_pem
    from asn1crypto import x509 as asn1_x509
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    from signing.profiles import TrustConfig
    from signing.validate import validate_pdf

    iterations = 8 if quick else 40
    with tempfile.TemporaryDirectory(prefix="trinhky-bench-validate-") as tmp:
        tmpdir = Path(tmp)
        bp = make_pki(tmpdir)
        in_path = tmpdir / "in.pdf"
        in_path.write_bytes(make_pdf_bytes())
        signed = tmpdir / "signed.pdf"
        level, note = _sign_at_best_level(bp, in_path, signed)
        root_pem = bp.pki.root_pem()
        issuing_pem = bp.pki.chain_pems()[0]
        trust = TrustConfig(trust_roots_pem=(root_pem,), other_certs_pem=(issuing_pem,))

        def cert(pem: bytes) -> asn1_x509.Certificate:
            return asn1_x509.Certificate.load(asn1_pem.unarmor(pem)[2])

        report = validate_pdf(signed, trust)
        found = [s.pades_level for s in report.signatures]

        def trinhky() -> None:
            r = validate_pdf(signed, trust)
            assert r.signatures, "no signature found"  # noqa: S101 - a correctness guard

        def direct() -> None:
            # Equivalent context, built fresh per call as the server does per request.
            def vc() -> ValidationContext:
                return ValidationContext(
                    trust_roots=[cert(root_pem)],
                    other_certs=[cert(issuing_pem)],
                    allow_fetching=False,
                    revocation_mode="soft-fail",
                )

            with signed.open("rb") as fh:
                reader = PdfFileReader(fh, strict=False)
                sig = reader.embedded_signatures[0]
                status = validate_pdf_signature(
                    sig, signer_validation_context=vc(), ts_validation_context=vc()
                )
                assert status.intact  # noqa: S101

        samples = time_interleaved(
            [
                Variant("pyhanko_validate_pdf_signature", direct),
                Variant("trinhky_validate_pdf", trinhky),
            ],
            iterations,
            warmup=2,
        )
    stats = {n: summarise(s) for n, s in samples.items()}
    r = ratio(
        stats["trinhky_validate_pdf"]["median_ms"],
        stats["pyhanko_validate_pdf_signature"]["median_ms"],
    )
    lines = [
        f"  signature level: requested {level}, reported by validate_pdf {found} "
        f"(bottom line {report.bottom_line}); {note}"
    ]
    for name, st in stats.items():
        lines.append(f"  {name:<38} median {st['median_ms']:8.2f} ms  p90 {st['p90_ms']:8.2f} ms")
    lines.append(f"  ratio trinhky/pyhanko (median): {r:.2f}  (1.00 = no overhead)")
    return {
        "name": NAME,
        "title": TITLE,
        "iterations": iterations,
        "level_requested": level,
        "levels_reported": found,
        "bottom_line": report.bottom_line,
        "note": note,
        "stats": stats,
        "ratio_trinhky_over_pyhanko": r,
        "targets": [],
        "lines": lines,
    }
