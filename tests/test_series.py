"""Numbering series of the outgoing register: the classified series (sổ văn bản mật) and
the ordinary one never block each other; an entry is unambiguous by series and number."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from storage.models import Document, Unit, User
from tests.conftest import Api
from tests.test_coverage import issue_via_full_route
from workflow.services import Services


def classified(api: Api, doc_type: str = "CV") -> dict[str, object]:
    response = api.post(
        "vanthu",
        "/documents",
        json={"classification": "mat", "doc_type": doc_type, "subject": "Công văn mật"},
    )
    assert response.status_code == 201, response.get_json()
    body: dict[str, object] = response.get_json()
    return body


def outgoing(api: Api) -> list[dict[str, object]]:
    entries: list[dict[str, object]] = api.get("vanthu", "/registers/outgoing").get_json()[
        "entries"
    ]
    return entries


def test_ordinary_issuance_after_a_classified_number(api: Api) -> None:
    secret = classified(api)
    assert secret["symbol"] == "01-CV/ĐUK"
    # The ordinary series also starts at 01: same symbol, other series, both accepted.
    ordinary = issue_via_full_route(api, "CV", "Công văn về hội nghị")
    second = issue_via_full_route(api, "CV", "Công văn thứ hai")
    again = classified(api)
    assert again["symbol"] == "02-CV/ĐUK"
    rows = {r["document_id"]: r for r in outgoing(api)}
    assert rows[ordinary]["symbol"] == "01-CV/ĐUK" and rows[ordinary]["series"] == "outgoing"
    assert rows[second]["symbol"] == "02-CV/ĐUK"
    assert rows[secret["id"]]["series"] == "outgoing_classified"
    assert rows[secret["id"]]["series_label"] == "Mật"
    # Series + number tell the four entries apart.
    keys = {(r["series"], r["number"]) for r in rows.values()}
    assert len(keys) == 4


def test_classified_registration_after_an_ordinary_number(api: Api) -> None:
    ordinary = issue_via_full_route(api, "CV", "Công văn về hội nghị")
    secret = classified(api)
    assert secret["symbol"] == "01-CV/ĐUK"
    rows = {r["document_id"]: r for r in outgoing(api)}
    assert rows[ordinary]["number"] == 1 and rows[secret["id"]]["number"] == 1
    assert rows[ordinary]["series"] != rows[secret["id"]]["series"]


# The unique constraint of each series is each database's own.
@pytest.mark.both_databases
def test_the_database_refuses_a_duplicate_within_one_series(services: Services) -> None:
    now = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
    with services.session_factory() as s:
        unit = s.scalars(select(Unit).where(Unit.code == "DUK")).one()
        clerk = s.scalars(select(User).where(User.username == "vanthu")).one()

        def row(register: str, number: int, symbol: str) -> Document:
            return Document(
                unit_id=unit.id,
                created_by_id=clerk.id,
                subject="x",
                doc_type="CV",
                state="issued",
                issuer_unit_id=unit.id,
                register=register,
                year=2026,
                number=number,
                symbol=symbol,
                issued_at=now,
            )

        s.add_all([row("outgoing", 7, "07-CV/ĐUK"), row("outgoing_classified", 7, "07-CV/ĐUK")])
        s.commit()
        s.add(row("outgoing_classified", 7, "07-QĐ/ĐUK"))  # same series and number
        with pytest.raises(IntegrityError):
            s.flush()
        s.rollback()
        s.add(row("outgoing", 8, "07-CV/ĐUK"))  # same series and symbol
        with pytest.raises(IntegrityError):
            s.flush()
