"""Benchmark: signatures made off the server (token/remote: raw signature or CMS) against
the internal path, at every PAdES level, on the signing layer (no HTTP, no database).

Internal: ``sign_pdf_file`` with the key loaded once (``load_signer``). External raw:
``prepare_external`` → the "token" signs the DER signed attributes (the same RSA key,
in process, standing for the token) → ``embed_raw_signature`` (adds the signature
timestamp above B-B) → ``extend_long_term`` at B-LT/B-LTA. External CMS: the same, but
the client returns a whole CMS (assembled around its raw signature) → ``embed_cms``
(splices the missing signature timestamp in) → the same long-term extension. Everything
is timed, the token's signature included. Target: each external path ≤ 2× the internal
path at its level.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from bench.common import Variant, make_pdf_bytes, ratio, summarise, time_interleaved

NAME = "external"
TITLE = "External signing (raw and CMS) vs internal, per PAdES level"
LEVELS = ("B-B", "B-T", "B-LT", "B-LTA")
PASSPHRASE = "mat-khau-bench"  # noqa: S105 - a throwaway key made by the benchmark


def run(quick: bool) -> dict[str, Any]:
    """Run the benchmark; :returns: the result dictionary."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    from signing import external
    from signing.keys import load_signer
    from signing.pades import sign_pdf_file
    from signing.pki import EmbeddedPki
    from signing.profiles import SigningProfile, TrustConfig
    from signing.revocation import CertStatus
    from signing.trust import TrustServices

    iterations = 5 if quick else 15
    with tempfile.TemporaryDirectory(prefix="trinhky-bench-ext-") as tmp:
        root = Path(tmp)
        pki = EmbeddedPki.create(root / "ca", b"bench-ca")
        services = TrustServices(pki, lambda serial: CertStatus(revoked=False), lambda: [])
        trust = TrustConfig(
            trust_roots_pem=(pki.root_pem(),), other_certs_pem=tuple(pki.chain_pems())
        )
        issued = pki.issue_signing_certificate(
            full_name="Lê Văn Đức",
            title="Bí thư",
            unit="Thường trực",
            organisation="Đảng ủy Khối",
            passphrase=PASSPHRASE,
        )
        signer = load_signer(
            issued.cert_pem, issued.encrypted_key_pem, PASSPHRASE, pki.chain_pems()
        )
        key = serialization.load_pem_private_key(issued.encrypted_key_pem, PASSPHRASE.encode())
        cert = x509.load_pem_x509_certificate(issued.cert_pem)
        assert isinstance(key, rsa.RSAPrivateKey)  # noqa: S101
        chain = list(pki.chain_pems())
        src = root / "in.pdf"
        src.write_bytes(make_pdf_bytes())
        counter = iter(range(10**9))

        def internal(level: str) -> None:
            out = root / f"int-{next(counter)}.pdf"
            sign_pdf_file(
                src,
                out,
                signer,
                SigningProfile(field_name="Sig", level=level),
                timestamper=services.timestamper if level != "B-B" else None,
                revocation=services.revocation_source() if level in ("B-LT", "B-LTA") else None,
            )
            out.unlink()

        def finish(level: str, signed: Path, prep: Any) -> None:
            if level in ("B-LT", "B-LTA"):
                final = root / f"lt-{next(counter)}.pdf"
                external.extend_long_term(
                    signed,
                    final,
                    level,
                    trust,
                    services.revocation_source(),
                    services.timestamper,
                    (prep.reserved_start, prep.reserved_end),
                )
                final.unlink()
            signed.unlink()

        def raw(level: str) -> None:
            prepared_path = root / f"prep-{next(counter)}.pdf"
            prep = external.prepare_external(
                src, prepared_path, issued.cert_pem, chain, SigningProfile("Sig", level=level)
            )
            signature = key.sign(prep.signed_attrs, padding.PKCS1v15(), hashes.SHA256())
            external.embed_raw_signature(
                prepared_path,
                prep,
                signature,
                issued.cert_pem,
                chain,
                services.timestamper if level != "B-B" else None,
            )
            finish(level, prepared_path, prep)

        def cms_path(level: str) -> None:
            prepared_path = root / f"prepc-{next(counter)}.pdf"
            prep = external.prepare_external(
                src, prepared_path, issued.cert_pem, chain, SigningProfile("Sig", level=level)
            )
            # The token's share: one raw signature, the CMS assembled around it (as a
            # client library does; the DER pieces are the same as the server's).
            signature = key.sign(prep.signed_attrs, padding.PKCS1v15(), hashes.SHA256())
            template = external._template_for(cert, chain)
            data = template.content_info(prep.signed_attrs, signature, None)
            external.embed_cms(
                prepared_path, prep, data, services.timestamper if level != "B-B" else None
            )
            finish(level, prepared_path, prep)

        lines: list[str] = []
        targets: list[dict[str, Any]] = []
        results: dict[str, Any] = {}
        for level in LEVELS:
            variants = [
                Variant(f"internal_{level}", lambda lv=level: internal(lv)),
                Variant(f"external_raw_{level}", lambda lv=level: raw(lv)),
                Variant(f"external_cms_{level}", lambda lv=level: cms_path(lv)),
            ]
            samples = time_interleaved(variants, iterations, warmup=1)
            stats = {n: summarise(s) for n, s in samples.items()}
            base = stats[f"internal_{level}"]["median_ms"]
            results[level] = stats
            for name, st in stats.items():
                r = ratio(st["median_ms"], base)
                lines.append(
                    f"  {name:<34} median {st['median_ms']:8.2f} ms  p90 {st['p90_ms']:8.2f} ms"
                    f"  ratio/internal {r:5.2f}"
                )
            for kind in ("raw", "cms"):
                r = ratio(stats[f"external_{kind}_{level}"]["median_ms"], base)
                targets.append(
                    {"target": f"external {kind} {level} <= 2x internal", "value": r, "met": r <= 2}
                )
        shutil.rmtree(root / "ca", ignore_errors=True)
    lines.append(
        "  (external_*: prepare the PDF + the token's raw signature (+ its CMS) + embed, "
        "signature timestamp, LT data; internal: sign_pdf_file at the same level)"
    )
    return {"name": NAME, "title": TITLE, "results": results, "lines": lines, "targets": targets}
