"""trinhky_verify: the offline verifier of TrinhKy audit bundles.

Run ``python -m trinhky_verify BUNDLE.zip``. It needs only the bundle and pyHanko
(pyhanko-certvalidator, asn1crypto, cryptography): it never imports the server and
never goes to the network. It checks the manifest hashes, re-validates every signature
against the bundle's own roots, matches every PDF with its ledger entry, recomputes the
audit hash chain against the timestamped checkpoints and the coverage figures from the
ledger, prints one line per check and a summary, and exits 1 on any mismatch (2 when
the bundle cannot be read at all).
"""

from __future__ import annotations

from trinhky_verify.checks import Line, verify_bundle

__all__ = ["Line", "verify_bundle"]
