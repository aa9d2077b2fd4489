"""workflow: the recipients a drafter plans for a document (nơi nhận dự kiến), checked at
upload and offered, ticked, to the clerk who dispatches it."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext
from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Document, PlannedRecipient, Unit, UnitKind
from storage.registry_models import Dispatch
from workflow.errors import InvalidInputError
from workflow.mail import EMAIL_RE

MAX_RECIPIENTS = 200
"""More than this many planned recipients is a mistake, not a distribution list."""

GROUPS: list[tuple[Any, tuple[str, ...]]] = [
    (lazy_gettext("Cấp ủy, Thường trực"), (UnitKind.COMMITTEE, UnitKind.STANDING)),
    (lazy_gettext("Các ban, Văn phòng"), (UnitKind.OFFICE, UnitKind.BOARD)),
    (lazy_gettext("Tổ chức cơ sở đảng"), (UnitKind.GRASSROOTS,)),
]
"""How the upload page groups the units to tick, in this order."""


@dataclass(frozen=True)
class Plan:
    """Checked recipients, ready to store."""

    units: list[Unit]
    """Internal units, in the order given, without repeats."""
    external: list[tuple[str, str]]
    """Outside recipients as (name, e-mail), without repeated addresses."""

    def store(self, doc: Document) -> None:
        """Record the planned recipients on a new document (the caller flushes)."""
        for unit in self.units:
            doc.planned_recipients.append(PlannedRecipient(unit_id=unit.id, unit=unit))
        for name, email in self.external:
            doc.planned_recipients.append(PlannedRecipient(name=name, email=email))

    def audit_details(self) -> dict[str, list[str]]:
        """:returns: the planned recipients for the upload's audit entry (none: nothing)."""
        details: dict[str, list[str]] = {}
        if self.units:
            details["recipients"] = [u.code for u in self.units]
        if self.external:
            details["external_recipients"] = [e for _n, e in self.external]
        return details


@dataclass(frozen=True)
class Prefill:
    """What the dispatch page ticks and fills in for the clerk."""

    units: set[int]
    """Planned units not yet sent to."""
    external_text: str
    """Planned outside recipients not yet sent to, one «Tên; e-mail» a line."""


def unit_ids_from_form(values: Iterable[str]) -> list[int]:
    """:returns: unit ids from form fields, each one id or several separated by commas.

    :raises InvalidInputError: something that is not a number.
    """
    ids: list[int] = []
    for value in values:
        for part in str(value).split(","):
            part = part.strip()
            if not part:
                continue
            if not part.isdigit():
                raise InvalidInputError(
                    _(
                        "Nơi nhận dự kiến phải là mã số (id) của đơn vị; «%(value)s» không hợp lệ.",
                        value=part[:40],
                    )
                )
            ids.append(int(part))
    return ids


def external_from_form(values: Iterable[str]) -> list[dict[str, str]]:
    """:returns: outside recipients from form fields: lines «Tên; e-mail», or a JSON list
    of ``{"name", "email"}`` (API clients).

    :raises InvalidInputError: a line without «;», or JSON that is not such a list.
    """
    out: list[dict[str, str]] = []
    for value in values:
        text = str(value or "").strip()
        if text.startswith("["):
            try:
                items = json.loads(text)
            except ValueError:
                items = None
            if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
                raise InvalidInputError(
                    _('Nơi nhận bên ngoài phải là danh sách {"name", "email"}.')
                )
            out.extend(
                {"name": str(i.get("name") or ""), "email": str(i.get("email") or "")}
                for i in items
            )
            continue
        for line in text.splitlines():
            if not line.strip():
                continue
            name, sep, email = line.rpartition(";")
            if not sep:
                raise InvalidInputError(
                    _(
                        "Dòng «%(line)s»: hãy ghi «Tên; địa chỉ thư điện tử».",
                        line=line.strip()[:80],
                    )
                )
            out.append({"name": name.strip(), "email": email.strip()})
    return out


def check(session: Session, unit_ids: Sequence[int], external: Sequence[dict[str, str]]) -> Plan:
    """Check the planned recipients: units that exist and are active, valid addresses.

    :raises InvalidInputError: an unknown or deactivated unit, a bad name or address.
    """
    units: list[Unit] = []
    for unit_id in dict.fromkeys(unit_ids):
        unit = session.get(Unit, unit_id)
        if unit is None:
            raise InvalidInputError(
                _("Không có đơn vị nhận với mã số %(id)s.", id=unit_id), code="unknown_recipient"
            )
        if not unit.active:
            raise InvalidInputError(
                _(
                    "Đơn vị «%(name)s» đã ngừng hoạt động, không chọn làm nơi nhận được.",
                    name=unit.name,
                ),
                code="inactive_recipient",
            )
        units.append(unit)
    outside: list[tuple[str, str]] = []
    for item in external:
        name = " ".join((item.get("name") or "").split())
        email = (item.get("email") or "").strip()
        if not name:
            raise InvalidInputError(
                _("Hãy nhập tên nơi nhận bên ngoài (địa chỉ %(email)s).", email=email[:255])
            )
        if len(name) > 255 or len(email) > 255 or not EMAIL_RE.match(email):
            raise InvalidInputError(
                _(
                    "Địa chỉ thư điện tử «%(email)s» của %(name)s không hợp lệ.",
                    email=email[:255],
                    name=name[:255],
                )
            )
        if email.lower() not in {e.lower() for _n, e in outside}:
            outside.append((name, email))
    if len(units) + len(outside) > MAX_RECIPIENTS:
        raise InvalidInputError(
            _("Tối đa %(n)s nơi nhận dự kiến.", n=MAX_RECIPIENTS), code="too_many_recipients"
        )
    return Plan(units, outside)


def from_form(session: Session, form: Any) -> Plan:
    """:returns: the checked recipients of an upload form (fields ``recipients``,
    ``external``); checked before the file is stored, so a refusal leaves nothing.

    :raises InvalidInputError: see :func:`unit_ids_from_form`, :func:`check`.
    """
    return check(
        session,
        unit_ids_from_form(form.getlist("recipients")),
        external_from_form(form.getlist("external")),
    )


def choices(session: Session) -> list[tuple[Any, list[Unit]]]:
    """:returns: the active units a drafter may tick, grouped as on the upload page."""
    units = session.scalars(select(Unit).where(Unit.active.is_(True)).order_by(Unit.id)).all()
    grouped = [(label, [u for u in units if u.kind in kinds]) for label, kinds in GROUPS]
    known = {k for _label, kinds in GROUPS for k in kinds}
    others = [u for u in units if u.kind not in known]
    if others:
        grouped.append((lazy_gettext("Đơn vị khác"), others))
    return [(label, group) for label, group in grouped if group]


def prefill(doc: Document, sent: Sequence[Dispatch]) -> Prefill:
    """:returns: the planned recipients the document has not yet been sent to."""
    sent_units = {d.recipient_unit_id for d in sent if d.recipient_unit_id is not None}
    sent_emails = {(d.external_email or "").lower() for d in sent}
    units = {p.unit_id for p in doc.planned_recipients if p.unit_id is not None}
    lines = [
        f"{p.name}; {p.email}"
        for p in doc.planned_recipients
        if p.unit_id is None and (p.email or "").lower() not in sent_emails
    ]
    return Prefill(units - sent_units, "\n".join(lines))
