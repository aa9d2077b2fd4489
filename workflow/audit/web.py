"""workflow: the audit log for auditors: JSON API, web page and CLI (blueprints)."""

from __future__ import annotations

from typing import Any

import click
from flask import Blueprint, Flask, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from storage.audit import ChainReport, verify_chain
from storage.audit_models import AuditCheckpoint
from storage.checkpoints import Timestamper, latest_checkpoint, list_checkpoints
from storage.heads import checkpoint_heads
from storage.models import AuditEvent, User
from storage.types import utcnow
from workflow import http
from workflow.accounts import access
from workflow.errors import ConflictError, ForbiddenError, InvalidInputError
from workflow.http import api_blueprint, current_actor
from workflow.i18n import translate
from workflow.schemas import audit as schemas
from workflow.schemas.openapi import operation
from workflow.services import EXTENSION_KEY, Services, get_session
from workflow.vocab import AUDIT_LABELS, OBJECT_LABELS, fold, vn_sort_key

TIMESTAMPER_KEY = "trinhky.audit_timestamper"
"""``app.extensions`` key of another checkpoint timestamper (digest -> RFC 3161 token
DER) than the embedded TSA (``Services.checkpoint_timestamper``), e.g. in tests."""

PAGE_ENTRIES = 100
MAX_LIMIT = 1000

api_bp = api_blueprint("audit_api", __name__, url_prefix="/audit")
bp = Blueprint("audit", __name__)

PROBLEM_LABELS = {
    "missing": "Thiếu bản ghi (bị xóa)",
    "inserted": "Có bản ghi bị chèn thêm",
    "altered": "Bản ghi bị sửa đổi",
    "rehashed": "Bản ghi bị sửa và tính lại mã băm",
    "reordered": "Thứ tự bản ghi bị đảo",
    "broken_link": "Chuỗi liên kết bị đứt",
    "head": "Đầu chuỗi không khớp bản ghi cuối",
    "checkpoint": "Không khớp điểm kiểm tra",
}


class AuditForm(FlaskForm):
    """Carries only the CSRF token (verify / checkpoint buttons)."""


def can_audit(user: User) -> bool:
    """:returns: whether ``user`` may read and verify the audit log."""
    return access.oversees(user)


def _require_auditor(user: User) -> User:
    if not can_audit(user):
        raise ForbiddenError(
            _("Chỉ cán bộ kiểm tra hoặc quản trị hệ thống được xem nhật ký kiểm toán.")
        )
    return user


def _timestamper(app: Flask) -> Timestamper:
    override: Timestamper | None = app.extensions.get(TIMESTAMPER_KEY)
    services: Services = app.extensions[EXTENSION_KEY]
    return override or services.checkpoint_timestamper


def checkpoint_now(
    session: Session, timestamper: Timestamper | None
) -> tuple[ChainReport, AuditCheckpoint | None]:
    """Verify from the latest checkpoint and, if intact, record the ledger head (if it
    changed) and a new checkpoint (no commit): what the ``checkpoints`` job does, but
    always recording a checkpoint.

    :returns: the verification report and the checkpoint (``None`` if the chain is broken).
    """
    done = checkpoint_heads(session, timestamper, now=utcnow(), force=True)
    return done.report, done.checkpoint


def report_answer(report: ChainReport) -> schemas.ChainReport:
    """:returns: the fixed JSON shape of ``GET /api/v1/audit/verify``."""
    return schemas.ChainReport(
        ok=report.ok,
        entries=report.entries,
        first_broken=report.first_broken,
        reason=report.reason,
        head_hash=report.head_hash,
        checkpoints=schemas.CheckpointsChecked(
            checked=report.checkpoints_checked, ok=report.checkpoints_ok
        ),
    )


def event_answer(event: AuditEvent, actor: str | None) -> schemas.AuditEvent:
    """:returns: one audit entry (time in Vietnam time)."""
    return schemas.AuditEvent(
        seq=event.seq,
        at=event.at,
        actor_id=event.actor_id,
        actor=actor,
        action=event.action,
        object_type=event.object_type,
        object_id=event.object_id,
        details=event.details,
        prev_hash=event.prev_hash,
        hash=event.hash,
    )


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInputError(_("'%(name)s' phải là số nguyên.", name=name)) from None
    if not low <= value <= high:
        raise InvalidInputError(
            _("'%(name)s' phải nằm trong khoảng %(low)s..%(high)s.", name=name, low=low, high=high)
        )
    return value


def _verify(session: Session, mode: str | None) -> ChainReport:
    if mode in (None, "", "genesis"):
        return verify_chain(session)
    if mode == "latest":
        return verify_chain(session, latest_checkpoint(session))
    raise InvalidInputError(_("'from' chỉ nhận 'genesis' (mặc định) hoặc 'latest'."))


@api_bp.get("/verify")
@operation(query=schemas.VerifyQuery, responses={200: schemas.ChainReport})
def verify_api() -> Any:
    """Recompute the chain (``?from=latest``: from the latest checkpoint)."""
    _require_auditor(http.actor())
    return report_answer(_verify(get_session(), request.args.get("from"))).dump()


@api_bp.get("/events")
@operation(query=schemas.EventsQuery, responses={200: schemas.AuditEvents})
def events_api() -> Any:
    """Entries with ``seq > after`` in order, at most ``limit`` (default 100, max 1000)."""
    _require_auditor(http.actor())
    after = _int_arg("after", 0, 0, 2**62)
    limit = _int_arg("limit", 100, 1, MAX_LIMIT)
    rows = get_session().execute(
        select(AuditEvent, User.username)
        .outerjoin(User, User.id == AuditEvent.actor_id)
        .where(AuditEvent.seq > after)
        .order_by(AuditEvent.seq)
        .limit(limit)
    )
    events = [event_answer(event, username) for event, username in rows]
    return schemas.AuditEvents(
        events=events, next_after=events[-1].seq if len(events) == limit else None
    ).dump()


def _render_page(report: ChainReport, full: bool, status: int = 200) -> Any:
    """The chain's status and the entries, filtered (``action``, ``object`` type, ``who``:
    a name without diacritics will do) and paged by ``before`` (a sequence number)."""
    db = get_session()
    query = (
        select(AuditEvent, User.full_name)
        .outerjoin(User, User.id == AuditEvent.actor_id)
        .order_by(AuditEvent.seq.desc())
    )
    action = request.args.get("action") or ""
    if action in AUDIT_LABELS:
        query = query.where(AuditEvent.action == action)
    kind = request.args.get("object") or ""
    if kind in OBJECT_LABELS:
        query = query.where(AuditEvent.object_type == kind)
    who = fold(request.args.get("who"))
    if who:
        ids = [
            u.id
            for u in db.scalars(select(User))
            if who in fold(u.full_name) or who in fold(u.username)
        ]
        query = query.where(AuditEvent.actor_id.in_(ids))
    before = _int_arg("before", 0, 0, 2**62)
    if before:
        query = query.where(AuditEvent.seq < before)
    entries = db.execute(query.limit(PAGE_ENTRIES + 1)).all()
    more = len(entries) > PAGE_ENTRIES
    entries = entries[:PAGE_ENTRIES]
    filters: dict[str, Any] = {
        k: v
        for k, v in {"action": action, "object": kind, "who": request.args.get("who") or ""}.items()
        if v
    }
    return render_template(
        "audit/index.html",
        report=report,
        full=full,
        problem_label=PROBLEM_LABELS.get(report.problem or "", report.problem),
        entries=entries,
        checkpoints=list_checkpoints(db),
        form=AuditForm(),
        actions=sorted(AUDIT_LABELS.items(), key=lambda item: vn_sort_key(translate(item[1]))),
        objects=OBJECT_LABELS,
        filters=filters,
        older=url_for("audit.page", before=entries[-1][0].seq, **filters)
        if more and entries
        else None,
        newest=url_for("audit.page", **filters) if before else None,
    ), status


@bp.get("/audit")
@login_required
def page() -> Any:
    """Chain status (from the latest checkpoint), recent entries and checkpoints."""
    _require_auditor(current_actor())
    db = get_session()
    if request.args.get("full") == "1":  # after "Kiểm tra toàn bộ chuỗi" (Post/Redirect/Get)
        return _render_page(verify_chain(db), full=True)
    return _render_page(verify_chain(db, latest_checkpoint(db)), full=False)


@bp.post("/audit/verify")
@login_required
def verify_page() -> Any:
    """Recompute the whole chain from the genesis entry."""
    _require_auditor(current_actor())
    if not AuditForm().validate_on_submit():
        return redirect(url_for("audit.page"))
    report = verify_chain(get_session())
    if report.ok:
        flash(_("Đã kiểm tra toàn bộ chuỗi: %(n)s bản ghi, toàn vẹn.", n=report.entries), "ok")
    else:
        flash(
            _("Chuỗi nhật ký không toàn vẹn tại bản ghi số %(seq)s.", seq=report.first_broken),
            "error",
        )
    return redirect(url_for("audit.page", full=1), 303)


@bp.post("/audit/checkpoints")
@login_required
def checkpoint_page() -> Response:
    """Record a checkpoint of the chain head (timestamped when a TSA is configured)."""
    _require_auditor(current_actor())
    if not AuditForm().validate_on_submit():
        return redirect(url_for("audit.page"))
    db = get_session()
    report, checkpoint = checkpoint_now(db, _timestamper(current_app))
    if checkpoint is None:
        raise ConflictError(
            _(
                "Chuỗi nhật ký không toàn vẹn (bản ghi số %(seq)s); không tạo điểm kiểm tra.",
                seq=report.first_broken,
            )
        )
    db.commit()
    if checkpoint.timestamp_token:
        message = _(
            "Đã tạo điểm kiểm tra có dấu thời gian tại bản ghi số %(seq)s.", seq=checkpoint.seq
        )
    else:
        message = _("Đã tạo điểm kiểm tra tại bản ghi số %(seq)s.", seq=checkpoint.seq)
    flash(message, "info")
    return redirect(url_for("audit.page"))


def register_audit_cli(app: Flask) -> None:
    """Attach ``flask audit-checkpoint`` to ``app.cli``."""

    @app.cli.command("audit-checkpoint")
    def audit_checkpoint_command() -> None:
        """Verify from the latest checkpoint, then record the head as a new checkpoint.

        Run it periodically (cron / systemd timer); exit 1 if the chain is broken.
        """
        services: Services = app.extensions[EXTENSION_KEY]
        with services.session_factory() as session:
            report, checkpoint = checkpoint_now(session, _timestamper(app))
            if checkpoint is None:
                click.echo(
                    f"audit chain BROKEN at entry {report.first_broken}: {report.reason}; "
                    "no checkpoint recorded"
                )
                raise SystemExit(1)
            session.commit()
            token = (
                f", timestamped by {checkpoint.tsa_name or 'TSA'}"
                if checkpoint.timestamp_token
                else ""
            )
            click.echo(
                f"checkpoint #{checkpoint.id}: entry {checkpoint.seq}, head {checkpoint.head_hash}"
                f"{token} ({report.entries} new entries verified)"
            )
