"""The jobs for people: ``GET /api/v1/jobs`` (auditors and administrators) and the
coverage dashboard's panel: the last run of each job, late or failed jobs flagged, how
current the time-driven figures are."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from sqlalchemy import select

from storage.scheduler_models import JobRun
from tests.conftest import Api
from tests.jobs.conftest import JOB_NAMES
from tests.test_web import csrf_token, login
from workflow.services import Services


def run_all_now(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["scheduler", "run", "--once"])
    assert result.exit_code == 0, result.output


def make_late(services: Services, job: str, hours: int) -> None:
    """Move ``job``'s newest run ``hours`` back, as if the scheduler stopped then."""
    with services.session_factory() as session:
        run = session.scalars(
            select(JobRun).where(JobRun.job == job).order_by(JobRun.due_at.desc())
        ).first()
        assert run is not None
        run.due_at -= timedelta(hours=hours)
        session.commit()


def test_jobs_api_for_auditors_and_administrators(app: Flask, api: Api, services: Services) -> None:
    assert api.client.get("/api/v1/jobs").status_code == 401
    denied = api.get("chuyenvien", "/jobs")
    assert denied.status_code == 403 and denied.mimetype == "application/problem+json"
    assert "Chỉ cán bộ kiểm tra" in denied.get_json()["detail"]

    fresh = api.get("kiemtra", "/jobs").get_json()
    assert [j["name"] for j in fresh["jobs"]] == list(JOB_NAMES)
    assert {j["status"] for j in fresh["jobs"]} == {"never"}
    assert fresh["flagged"] == len(JOB_NAMES)
    assert all(j["last_run"] is None and j["late"] for j in fresh["jobs"])

    run_all_now(app)
    body = api.get("admin", "/jobs").get_json()
    assert body["flagged"] == 0 and body["grace_seconds"] == 600
    checkpoints = next(j for j in body["jobs"] if j["name"] == "checkpoints")
    assert checkpoints["status"] == "ok" and checkpoints["interval_seconds"] == 3600
    last = checkpoints["last_run"]
    assert last["outcome"] == "ok" and "có dấu thời gian" in last["summary"]
    assert last["due_at"].endswith("+07:00") and last["error"] is None
    assert checkpoints["next_due"] > last["due_at"]
    as_of = body["as_of"]
    assert set(as_of["targets"]) == {"T2", "T4"}
    assert as_of["targets"]["T4"]["job"] == "overdue"
    assert as_of["targets"]["T4"]["last_success"] is not None

    make_late(services, "reminders", 3)
    later = api.get("kiemtra", "/jobs").get_json()
    reminders = next(j for j in later["jobs"] if j["name"] == "reminders")
    assert (reminders["status"], reminders["late"], reminders["flagged"]) == ("late", True, True)
    assert reminders["status_label"] == "Chậm lịch" and later["flagged"] == 1


def test_dashboard_panel_flags_late_jobs_for_auditors(app: Flask, services: Services) -> None:
    run_all_now(app)
    make_late(services, "overdue", 5)
    auditor = app.test_client()
    login(auditor, "kiemtra")
    html = auditor.get("/coverage?period=2026").get_data(as_text=True)
    assert 'id="jobs-panel"' in html and "Số liệu được tính từ sổ chỉ tiêu lúc" in html
    assert "1 công việc tự động không chạy đúng lịch hoặc bị lỗi." in html
    assert 'data-job="overdue" data-state="late"' in html
    assert 'data-job="checkpoints" data-state="ok"' in html
    assert "Chậm lịch" in html and "mỗi giờ" in html and "mỗi ngày" in html
    assert "T4: Ghi nhận báo cáo quá hạn vào sổ chỉ tiêu (T4)" in html

    leader = app.test_client()  # a reader of the figures, not of the jobs
    login(leader, "truongban")
    page = leader.get("/coverage?period=2026").get_data(as_text=True)
    assert "Số liệu được tính từ sổ chỉ tiêu lúc" in page
    assert "data-job=" not in page and "Công việc tự động" not in page

    english = app.test_client()
    login(english, "kiemtra")
    token = csrf_token(english, "/")
    english.post("/lang", data={"csrf_token": token, "lang": "en", "next": "/"})
    text = english.get("/coverage?period=2026").get_data(as_text=True)
    assert "Scheduled jobs" in text and "Late" in text and "hourly" in text
    assert "1 scheduled job(s) did not run on time or failed." in text
