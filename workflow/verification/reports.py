"""workflow: the validation report of a stored file, computed once per file and trust list.

The document page, its API and the registers read reports from here: a report is looked
up by the blob's SHA-256 and the trust-list version (``storage.validation_cache``), so a
GET validates nothing when the file was validated before (the signing flow records the
report it validated the new revision with). On a miss (a revision uploaded, or the trust
list or a revocation changed since) the file is validated once and the report stored in
a short transaction of its own, for every worker and host. The stored file is checked
before a cached report is used (``BlobStore.intact``: re-hashed, unless the store proves
it unchanged since its last re-hash): a file changed on disk is validated afresh (and
found broken), never served its old report.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from signing.validate import ValidationReport, validate_pdf
from storage import validation_cache
from workflow.services import Services


def report_of(services: Services, session: Session, sha256: str) -> ValidationReport:
    """:returns: the validation report of the stored blob ``sha256`` under the current
    trust list (revocation of our own CA's certificates included).

    :param session: the caller's session (only read from).
    """
    version, cached = validation_cache.current_report(session, sha256)
    # Check the stored file before its report is used: a file changed behind the store's
    # back is never vouched for by a report of its old bytes (the store re-hashes it
    # unless it proves the file unchanged since its last re-hash: ``BlobStore.intact``).
    intact = services.blobs.intact(sha256)
    if intact and cached is not None:
        return ValidationReport.from_dict(cached)
    with services.blobs.local_copy(sha256) as path:
        report = validate_pdf(path, services.trust, services.trust_services.revocation_source())
    if intact:
        with services.session_factory() as writer:
            validation_cache.store_report(writer, sha256, version, report.to_cache())
    return report
