"""The PDF viewer's pages, the stamp preview, signing at a clicked place and the route
preview: authorisation, classified refusal, bad input, and where the stamp lands."""

from __future__ import annotations

from collections.abc import Callable
from io import BytesIO
from typing import Any

import pytest
from flask.testing import FlaskClient
from pypdf import PdfReader

from signing.errors import PageGeometryError
from signing.pages import PageGeometry
from storage.models import Signature
from tests.conftest import DEMO_PASSWORD, Api, closed
from tests.pdfs import simple_pdf
from tests.test_web import csrf_token, login
from workflow.viewer import geometry
from workflow.viewer import render as pagerender

A4 = (0.0, 0.0, 595.0, 842.0)


def approved_for_signing(api: Api, submitted_document: Callable[..., int]) -> tuple[int, int]:
    """A document approved by the board head; :returns: its id and bithu's sign task."""
    doc_id = submitted_document()
    task = api.task_for("truongban", doc_id)
    assert api.post("truongban", f"/tasks/{task['id']}/approve", json={}).status_code == 200
    return doc_id, api.task_for("bithu", doc_id)["id"]


def widget_rects(pdf: bytes) -> dict[str, tuple[int, list[float]]]:
    """:returns: each signature field's page index and /Rect."""
    reader = PdfReader(BytesIO(pdf))
    found = {}
    for index, page in enumerate(reader.pages):
        for annot in page.get("/Annots") or []:
            widget = annot.get_object()
            if widget.get("/FT") == "/Sig":
                found[str(widget["/T"])] = (index, [float(v) for v in widget["/Rect"]])
    return found


def user_client(app: Any, username: str) -> FlaskClient:
    client: FlaskClient = app.test_client()
    login(client, username)
    return client


def test_pages_render_for_parties_only(
    app: Any, services: Any, submitted_document: Callable[..., int]
) -> None:
    doc_id = submitted_document()
    drafter = user_client(app, "chuyenvien")
    page = closed(drafter.get(f"/documents/{doc_id}")).get_data(as_text=True)
    assert f"/documents/{doc_id}/pages/0.png" in page and 'id="viewer"' in page
    png = closed(drafter.get(f"/documents/{doc_id}/pages/0.png"))
    assert png.status_code == 200 and png.mimetype == "image/png"
    assert png.data.startswith(b"\x89PNG") and "private" in png.headers["Cache-Control"]
    cached = list((services.settings.instance_path / "page-cache").rglob("*.png"))
    assert len(cached) == 1
    again = closed(drafter.get(f"/documents/{doc_id}/pages/0.png"))
    assert again.data == png.data
    small = closed(drafter.get(f"/documents/{doc_id}/pages/0.png?size=800"))
    assert small.status_code == 200 and len(small.data) < len(png.data)

    assert closed(drafter.get(f"/documents/{doc_id}/pages/1.png")).status_code == 404
    bad = closed(drafter.get(f"/documents/{doc_id}/pages/0.png?size=5000"))
    assert bad.status_code == 422 and "Kích thước" in bad.get_data(as_text=True)
    assert closed(drafter.get(f"/documents/{doc_id}/pages/0.png?rev=9")).status_code == 404

    outsider = user_client(app, "vanthu")  # another unit's clerk, not party to it
    refused = closed(outsider.get(f"/documents/{doc_id}/pages/0.png"))
    assert refused.status_code == 404 and "không có quyền" in refused.get_data(as_text=True)
    anonymous = closed(app.test_client().get(f"/documents/{doc_id}/pages/0.png"))
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


def test_classified_entries_are_never_rendered(app: Any) -> None:
    clerk = user_client(app, "vanthu")
    token = csrf_token(clerk, "/documents/classified/new")
    done = closed(
        clerk.post(
            "/documents/classified/new",
            data={
                "csrf_token": token,
                "classification": "mat",
                "doc_type": "BC",
                "subject": "Báo cáo mật",
            },
        )
    )
    assert done.status_code == 302
    doc_id = int(done.headers["Location"].rsplit("/", 1)[1])
    page = closed(clerk.get(f"/documents/{doc_id}")).get_data(as_text=True)
    assert 'id="viewer"' not in page and "/pages/" not in page
    refused = closed(clerk.get(f"/documents/{doc_id}/pages/0.png"))
    assert refused.status_code == 403 and "Văn bản mật" in refused.get_data(as_text=True)


def test_route_preview(app: Any) -> None:
    drafter = user_client(app, "chuyenvien")
    body = closed(drafter.get("/documents/route-preview?type=CV")).get_json()
    assert body["route"]["code"] == "thuong-truc-ky"
    names = [s["name"] for s in body["stages"]]
    assert len(names) == 2 and body["stages"][-1]["action"] == "sign"
    assert any(a["name"] == "Trần Văn Phương" for a in body["stages"][0]["assignees"])
    assert any(a["name"] == "Lê Văn Đức" for a in body["stages"][-1]["assignees"])
    other = closed(
        drafter.get("/documents/route-preview?type=NQ&urgency=khan&route=thuong-truc-ban-hanh")
    ).get_json()
    assert other["route"]["code"] == "thuong-truc-ban-hanh" and len(other["stages"]) == 4

    for query, status, code in (
        ("type=XX", 422, "bad_type"),
        ("type=CV&urgency=gap", 422, "bad_urgency"),
        ("type=CV&route=khong-co", 404, "no_route"),
    ):
        bad = closed(drafter.get("/documents/route-preview?" + query))
        assert bad.status_code == status and bad.mimetype == "application/problem+json"
        assert bad.get_json()["code"] == code and bad.get_json()["detail"]
    signer = user_client(app, "bithu")  # no drafting role
    assert closed(signer.get("/documents/route-preview?type=CV")).status_code == 403
    anonymous = closed(app.test_client().get("/documents/route-preview"))
    assert anonymous.status_code == 302


def test_stamp_preview_is_the_signers_own(
    app: Any, api: Api, submitted_document: Callable[..., int]
) -> None:
    doc_id, task_id = approved_for_signing(api, submitted_document)
    signer = user_client(app, "bithu")
    body = closed(signer.get(f"/tasks/{task_id}/stamp-preview")).get_json()
    assert body["image"].startswith("data:image/png;base64,")
    assert (body["width"], body["height"]) == (200.0, 110.0)
    assert "Lê Văn Đức" in body["lines"]
    default = body["default"]  # bottom right of the last page, in view points
    assert default["page"] == 0 and default["x"] == 595 - 36 - 200
    assert default["y"] == pytest.approx(842 - 36 - 110)
    head = user_client(app, "truongban")
    assert closed(head.get(f"/tasks/{task_id}/stamp-preview")).status_code == 403
    outsider = user_client(app, "vanthu")
    assert closed(outsider.get(f"/tasks/{task_id}/stamp-preview")).status_code == 404
    assert closed(signer.get("/tasks/99999/stamp-preview")).status_code == 404


def test_sign_at_a_clicked_place(
    app: Any,
    api: Api,
    submitted_document: Callable[..., int],
    count_rows: Callable[[Any], int],
) -> None:
    doc_id, task_id = approved_for_signing(api, submitted_document)
    signer = user_client(app, "bithu")
    token = csrf_token(signer, f"/documents/{doc_id}")
    page = closed(signer.get(f"/documents/{doc_id}")).get_data(as_text=True)
    assert f"/tasks/{task_id}/sign-at" in page and 'name="x"' in page

    def sign(**fields: Any) -> Any:
        data = {"csrf_token": token, "passphrase": DEMO_PASSWORD, **fields}
        return closed(signer.post(f"/tasks/{task_id}/sign-at", data=data))

    for fields in (
        {"page": "3", "x": "100", "y": "100"},  # no such page
        {"page": "0", "x": "-5", "y": "100"},  # off the page
        {"page": "0", "x": "100", "y": "900"},
        {"page": "0", "x": "nan", "y": "100"},
        {"page": "0", "x": "100"},  # incomplete
        {"page": "0", "x": "abc", "y": "1"},
    ):
        refused = sign(**fields)
        # Post/Redirect/Get: back to the document page, the reason flashed there.
        assert refused.status_code == 303, fields
        assert refused.headers["Location"].startswith(f"/documents/{doc_id}?") or refused.headers[
            "Location"
        ].startswith(f"/documents/{doc_id}#")
        shown = closed(signer.get(refused.headers["Location"])).get_data(as_text=True)
        assert "Vị trí" in shown or "trang" in shown
    assert count_rows(Signature) == 0
    wrong = closed(
        signer.post(
            f"/tasks/{task_id}/sign-at",
            data={"csrf_token": token, "passphrase": "sai", "page": "0", "x": "1", "y": "1"},
        )
    )
    # The place the signer chose goes back with them (the passphrase never does).
    assert wrong.status_code == 303 and count_rows(Signature) == 0
    assert wrong.headers["Location"] == f"/documents/{doc_id}?page=0&x=1&y=1#sign"
    assert "Mật khẩu khóa ký số không đúng" in closed(
        signer.get(wrong.headers["Location"])
    ).get_data(as_text=True)

    # The stamp's centre where clicked: 150 pt from the left, 200 pt from the top.
    signed = sign(page="0", x="150", y="200")
    assert signed.status_code == 303 and signed.headers["Location"].endswith("#signatures")
    done = closed(signer.get(f"/documents/{doc_id}")).get_data(as_text=True)
    assert "Tất cả chữ ký hợp lệ" in done
    pdf = closed(signer.get(f"/documents/{doc_id}/file")).data
    [(index, rect)] = widget_rects(pdf).values()
    assert index == 0
    assert rect == [50.0, 587.0, 250.0, 697.0]  # 150 ± 100, 842 - 200 ± 55
    assert count_rows(Signature) == 1


def test_sign_at_without_a_place_uses_the_default(
    app: Any, api: Api, submitted_document: Callable[..., int]
) -> None:
    doc_id, task_id = approved_for_signing(api, submitted_document)
    signer = user_client(app, "bithu")
    token = csrf_token(signer, f"/documents/{doc_id}")
    data = {"csrf_token": token, "passphrase": DEMO_PASSWORD, "page": "", "x": "", "y": ""}
    signed = closed(signer.post(f"/tasks/{task_id}/sign-at", data=data))
    assert signed.status_code == 303
    pdf = closed(signer.get(f"/documents/{doc_id}/file")).data
    [(index, rect)] = widget_rects(pdf).values()
    assert index == 0 and rect == [359.0, 36.0, 559.0, 146.0]
    empty = closed(signer.post(f"/tasks/{task_id}/sign-at", data={"csrf_token": token}))
    assert empty.status_code in (303, 400, 404, 409)


def test_sign_at_refuses_others_and_forged_forms(
    app: Any, api: Api, submitted_document: Callable[..., int]
) -> None:
    doc_id, task_id = approved_for_signing(api, submitted_document)
    head = user_client(app, "truongban")
    token = csrf_token(head, f"/documents/{doc_id}")
    data = {"csrf_token": token, "passphrase": DEMO_PASSWORD, "page": "0", "x": "9", "y": "9"}
    assert closed(head.post(f"/tasks/{task_id}/sign-at", data=data)).status_code == 403
    signer = user_client(app, "bithu")
    no_csrf = closed(signer.post(f"/tasks/{task_id}/sign-at", data={"passphrase": "x"}))
    assert no_csrf.status_code == 400


@pytest.mark.parametrize(
    ("rotation", "box", "view", "expected"),
    [
        (0, (0, 0, 595, 842), (150, 200), (150, 642)),
        (0, (10, 20, 605, 862), (0, 0), (10, 862)),  # crop box offset: top left corner
        # Turned clockwise: the view is 842 wide and 595 high; the page's bottom left
        # corner shows at the top left, its top left corner at the top right.
        (90, (0, 0, 595, 842), (0, 0), (0, 0)),
        (90, (0, 0, 595, 842), (842, 0), (0, 842)),
        (90, (0, 0, 595, 842), (0, 595), (595, 0)),
        (180, (0, 0, 595, 842), (0, 0), (595, 0)),
        (270, (0, 0, 595, 842), (0, 0), (595, 842)),
        (270, (0, 0, 595, 842), (842, 595), (0, 0)),
    ],
)
def test_view_points_map_to_user_space(
    rotation: int,
    box: tuple[float, float, float, float],
    view: tuple[float, float],
    expected: tuple[float, float],
) -> None:
    page = PageGeometry(0, box, rotation)
    assert geometry.view_to_pdf(page, *view) == pytest.approx(expected)
    assert geometry.pdf_to_view(page, *expected) == pytest.approx(view)


def test_box_at_stays_inside_the_page() -> None:
    page = PageGeometry(0, A4, 0)
    assert geometry.box_at(page, 300, 400, 200, 110) == (200, 387, 400, 497)
    assert geometry.box_at(page, 0, 0, 200, 110) == (0, 732, 200, 842)
    assert geometry.box_at(page, 595, 842, 200, 110) == (395, 0, 595, 110)


def test_geometry_reads_rotation_and_crop_box(tmp_path: Any) -> None:
    from pypdf import PdfWriter
    from pypdf.generic import NameObject, NumberObject, RectangleObject

    writer = PdfWriter(clone_from=BytesIO(simple_pdf(pages=2)))
    writer.pages[1][NameObject("/Rotate")] = NumberObject(90)
    writer.pages[1][NameObject("/CropBox")] = RectangleObject((10, 20, 510, 820))
    path = tmp_path / "rotated.pdf"
    with path.open("wb") as f:
        writer.write(f)
    first, second = geometry.page_geometry(path)
    assert (first.box, first.rotation, first.width, first.height) == (A4, 0, 595, 842)
    assert (second.box, second.rotation) == ((10, 20, 510, 820), 90)
    assert (second.width, second.height) == (800, 500)
    png = pagerender.render_page(path, "ab" * 32, 1, 800, tmp_path / "cache")
    assert png.read_bytes()[16:24] == (800).to_bytes(4, "big") + (500).to_bytes(4, "big")
    with pytest.raises(PageGeometryError):
        geometry.page_geometry(tmp_path / "missing.pdf")


def test_a_slow_render_is_cut_off_and_explained(
    app: Any, services: Any, submitted_document: Callable[..., int], monkeypatch: Any
) -> None:
    doc_id = submitted_document()
    drafter = user_client(app, "chuyenvien")
    monkeypatch.setattr(pagerender, "RENDER_TIMEOUT", 0.0001)
    refused = closed(drafter.get(f"/documents/{doc_id}/pages/0.png"))
    assert refused.status_code == 422
    assert "hãy tải tệp PDF xuống" in refused.get_data(as_text=True)
    cache = services.settings.instance_path / "page-cache"
    assert not [p for p in cache.rglob("*") if p.is_file()]  # nothing half-written kept


def test_pdfium_renders_when_no_system_renderer_is_installed(
    tmp_path: Any, monkeypatch: Any
) -> None:
    # `make run` installs no Debian package: the pypdfium2 wheel still gives page images,
    # in a bounded child process, crop box and rotation applied like pdftoppm.
    from pypdf import PdfWriter
    from pypdf.generic import NameObject, NumberObject, RectangleObject

    writer = PdfWriter(clone_from=BytesIO(simple_pdf(pages=2)))
    writer.pages[1][NameObject("/Rotate")] = NumberObject(90)
    writer.pages[1][NameObject("/CropBox")] = RectangleObject((10, 20, 510, 820))
    path = tmp_path / "rotated.pdf"
    with path.open("wb") as f:
        writer.write(f)
    monkeypatch.setattr(pagerender.shutil, "which", lambda _name: None)
    assert pagerender.available()
    png = pagerender.render_page(path, "cd" * 32, 1, 800, tmp_path / "cache")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.read_bytes()[16:24] == (800).to_bytes(4, "big") + (500).to_bytes(4, "big")
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.7\n1 0 obj <<>> endobj\n%%EOF\n")
    with pytest.raises(pagerender.RenderError):
        pagerender.render_page(tmp_path / "broken.pdf", "ef" * 32, 0, 800, tmp_path / "cache")
