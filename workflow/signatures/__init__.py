"""workflow.signatures: signing a revision (one, in bulk, off the server), certificates, the seal, the trust services under /pki."""

from __future__ import annotations

from flask import Flask

from workflow.http import csrf, register_api
from workflow.signatures import bulk_web, certificates_web, external, public_web, trust_web


def register(app: Flask) -> None:
    """Add this package's pages, API and commands to ``app``."""
    app.register_blueprint(bulk_web.bp)
    app.register_blueprint(certificates_web.pages)
    app.register_blueprint(public_web.bp)
    register_api(app, bulk_web.api_bp, certificates_web.bp, external.bp)
    app.register_blueprint(trust_web.bp)
    csrf.exempt(trust_web.bp)  # OCSP and TSA clients post DER, with no session
