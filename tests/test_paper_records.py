"""Records kept off the system: a report delivered on paper (a miss of T4) and a work
file kept on paper (a miss of T3), recorded through the API and counted at once."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from storage.ledger import LedgerEntry
from storage.models import AuditEvent, Unit
from storage.registry_models import ReportObligation, WorkFile
from tests.conftest import Api
from tests.test_coverage import assert_counts_exact
from workflow.records import reporting
from workflow.services import Services

# Dates of paper documents (today, the future refused) and the year's figures: on a known clock.
pytestmark = pytest.mark.usefixtures("clock")


def obligations(services: Services, period: str) -> dict[tuple[str, str], int]:
    """Generate the obligations of ``period``; :returns: their ids by (unit, type)."""
    with services.session_factory() as s:
        reporting.generate_obligations(s, period)
        s.commit()
        rows = s.scalars(select(ReportObligation).where(ReportObligation.period == period))
        units = {u.id: u.code for u in s.scalars(select(Unit))}
        return {(units[o.unit_id], o.report_type): o.id for o in rows}


def t4_entry(services: Services, obligation_id: int) -> LedgerEntry | None:
    with services.session_factory() as s:
        return s.scalars(
            select(LedgerEntry).where(
                LedgerEntry.target == "T4", LedgerEntry.subject_id == obligation_id
            )
        ).first()


def count(services: Services) -> tuple[int, int, int]:
    with services.session_factory() as s:
        return (
            int(s.scalar(select(func.count()).select_from(AuditEvent)) or 0),
            int(s.scalar(select(func.count()).select_from(LedgerEntry)) or 0),
            int(s.scalar(select(func.count()).select_from(WorkFile)) or 0),
        )


def test_report_delivered_on_paper_is_a_t4_miss(api: Api, services: Services) -> None:
    ids = obligations(services, "2026-Q3")
    secret = obligations(services, "2026")[("CS-GDDT", "bao-ve-chinh-tri-nam")]
    gd = ids[("CS-GDDT", "cong-tac-dang-quy")]
    # The committee's clerk receives the grassroots reports: sees and records them.
    listed = api.get("vanthu", "/reports/obligations?period=2026-Q3").get_json()["obligations"]
    assert gd in {o["id"] for o in listed}
    recorded = api.post("vanthu", f"/reports/obligations/{gd}/paper", json={})
    assert recorded.status_code == 200, recorded.get_json()
    body = recorded.get_json()
    assert body["status"] == "paper" and body["paper_delivered_on"]
    entry = t4_entry(services, gd)
    assert entry is not None and entry.state == "missing" and "bản giấy" in (entry.reason or "")
    year = entry.period_date.year
    t4 = api.get("kiemtra", f"/coverage?period={year}").get_json()["T4"]
    assert (t4["numerator"], t4["denominator"]) == (0, 1)
    assert_counts_exact(services)
    with services.session_factory() as s:
        event = s.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "report:paper_delivered")
            .order_by(AuditEvent.seq)
        ).one()
        assert event.object_id == str(gd)

    for user in ("chuyenvien", "bithugd", "vanthugd"):
        api.login(user)
    before = count(services)
    refusals: list[tuple[str, int, dict[str, Any], int]] = [
        ("vanthu", gd, {}, 409),  # already recorded
        ("vanthu", secret, {}, 409),  # classified: exempt
        ("chuyenvien", ids[("CS-DL", "cong-tac-dang-quy")], {}, 404),  # not visible
        ("vanthugd", ids[("CS-DL", "cong-tac-dang-quy")], {}, 404),
        ("bithugd", ids[("CS-GDDT", "cong-tac-dang-quy")], {}, 403),  # not a clerk
        ("vanthu", ids[("CS-DL", "cong-tac-dang-quy")], {"delivered_on": "2999-01-01"}, 422),
        ("vanthu", ids[("CS-DL", "cong-tac-dang-quy")], {"delivered_on": "mai"}, 422),
    ]
    for user, obligation_id, payload, status in refusals:
        refused = api.post(user, f"/reports/obligations/{obligation_id}/paper", json=payload)
        assert refused.status_code == status, (user, payload, refused.get_json())
    assert count(services) == before
    # The unit's own clerk may record its report too.
    own = api.post("vanthugd", f"/reports/obligations/{gd}/paper", json={})
    assert own.status_code == 409  # already recorded by the committee's clerk


def test_work_file_kept_on_paper_is_a_t3_miss(api: Api, services: Services) -> None:
    closed = api.post(
        "chuyenvien",
        "/workfiles/paper",
        json={"title": "Hồ sơ hội nghị tổng kết 2026", "closed_on": "2026-11-02"},
    )
    assert closed.status_code == 201, closed.get_json()
    wf = closed.get_json()
    assert wf["form"] == "paper" and wf["state"] == "closed" and wf["processed_online"] is False
    assert wf["closed_at"].startswith("2026-11-02")
    t3 = api.get("kiemtra", "/coverage?period=2026-11&unit=BTG").get_json()["T3"]
    assert (t3["numerator"], t3["denominator"]) == (0, 1)
    misses = api.get("kiemtra", "/coverage/misses?target=T3&period=2026").get_json()["items"]
    assert [(m["id"], m["reason"]) for m in misses] == [
        (wf["id"], "Hồ sơ lưu trên giấy, ngoài hệ thống.")
    ]
    # Open on paper: whatever is attached, closing it gives a miss.
    opened = api.post("chuyenvien", "/workfiles/paper", json={"title": "Hồ sơ giấy"}).get_json()
    assert opened["state"] == "open" and opened["processed_online"] is False
    done = api.post("chuyenvien", f"/workfiles/{opened['id']}/close")
    assert done.status_code == 200 and done.get_json()["processed_online"] is False
    assert_counts_exact(services)

    api.login("kiemtra")
    before = count(services)
    for user, payload, status in [
        ("chuyenvien", {"title": ""}, 422),
        ("chuyenvien", {"title": "x", "closed_on": "2999-01-01"}, 422),
        ("chuyenvien", {"title": "x", "closed_on": "02/11/2026"}, 422),
        ("chuyenvien", {"title": "x", "unit": "CS-DL"}, 403),
        ("chuyenvien", {"title": "x", "classified": "yes"}, 422),
        ("kiemtra", {"title": "x"}, 403),
    ]:
        refused = api.post(user, "/workfiles/paper", json=payload)
        assert refused.status_code == status, (payload, refused.get_json())
    assert count(services) == before
