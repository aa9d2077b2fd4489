"""Issue 14 in Chromium, from the user's side: the office clerk finds and receives what
was sent to the office (switcher, counts, notification link, inbox), the auditor opens
the registers, the signer signs where the preview showed (kept across a wrong
passphrase, one request per press, the signed page's stamp where the preview was and
over no text), bulk signing starts with nothing ticked and confirms the count, the
drafter sees why a document came back. Desktop 1366x768 and phone 390x844; screenshots
in test-artifacts/screenshots/."""

from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
import requests
from pypdf import PdfReader

from signing.stamps import FONT_PATH
from tests.browser.conftest import (
    SCREENSHOTS,
    STEP_TIMEOUT_MS,
    VIEWPORTS,
    Shots,
    api_token,
    open_as,
)
from tests.browser.test_accessibility import BLOCKING, axe_violations, summary
from tests.browser.test_journey_auditor import _post, _task, issued_by_api
from tests.conftest import DEMO_PASSWORD
from tests.servers import Served

pytestmark = pytest.mark.browser

DESKTOP = VIEWPORTS["laptop"]  # 1366x768: what "above the fold" means here
SIZE = {"desktop": "laptop", "phone": "phone"}
OFFICE = "Văn phòng Đảng ủy Khối"
A4 = (595.0, 842.0)


@pytest.fixture(autouse=True)
def _patient_expect() -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=STEP_TIMEOUT_MS // 3)


def party_pdf(subject: str) -> bytes:
    """A one-page Party-style document: "Số:" line, body, "Nơi nhận" bottom left and the
    signature block "T/M BAN THƯỜNG VỤ / BÍ THƯ" bottom right with the name under it."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen import canvas

    if "TkVi" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("TkVi", str(FONT_PATH)))
    out = BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4)
    pdf.setFont("TkVi", 11)
    pdf.drawString(60, 780, "ĐẢNG BỘ KHỐI CƠ QUAN - DOANH NGHIỆP")
    pdf.drawString(60, 764, "Số:        -CV/ĐUK")
    pdf.drawString(330, 764, "Hà Nội, ngày    tháng    năm 2026")
    pdf.drawString(60, 720, subject[:80])
    y = 690
    for line in range(14):
        pdf.drawString(
            60, y, f"Nội dung văn bản, đoạn {line + 1}: triển khai thực hiện nghiêm túc."
        )
        y -= 18
    pdf.drawString(60, 300, "Nơi nhận:")
    pdf.drawString(60, 284, "- Các đảng ủy trực thuộc,")
    pdf.drawString(60, 268, "- Lưu Văn phòng.")
    pdf.drawString(360, 300, "T/M BAN THƯỜNG VỤ")
    pdf.drawString(390, 284, "BÍ THƯ")
    pdf.drawString(370, 200, "Lê Văn Đức")
    pdf.showPage()
    pdf.save()
    return out.getvalue()


def approved_for_bithu(base: str, subject: str, data: bytes | None = None) -> int:
    """A document on the default route, approved by the board head: ``bithu`` signs next."""
    created = _post(
        base,
        "chuyenvien",
        "/api/v1/documents",
        files={"file": ("van-ban.pdf", data or party_pdf(subject), "application/pdf")},
        data={"subject": subject, "doc_type": "CV"},
    )
    doc_id = int(created.json()["id"])
    _post(base, "chuyenvien", f"/api/v1/documents/{doc_id}/submit")
    _post(base, "truongban", f"/api/v1/tasks/{_task(base, 'truongban', doc_id)}/approve", json={})
    return doc_id


def unit_id(server: Served, code: str) -> int:
    with sqlite3.connect(server.instance / "trinhky.sqlite3") as db:
        row = db.execute("SELECT id FROM units WHERE code = ?", (code,)).fetchone()
    return int(row[0])


@pytest.fixture(scope="module")
def sent_to_office(server: Served) -> Iterator[str]:
    """An issued document dispatched to the office (Văn phòng): waits for its receipt."""
    subject = "Về việc gửi Văn phòng kế hoạch kiểm tra cuối năm 2026"
    doc = issued_by_api(server.base, subject, "Ke hoach kiem tra cuoi nam")
    _post(
        server.base,
        "vanthu",
        f"/api/v1/documents/{doc['id']}/dispatch",
        json={"recipients": [unit_id(server, "VP")]},
    )
    yield subject


def no_blocking(page: Any, where: str) -> None:
    blocking = [v for v in axe_violations(page) if v["impact"] in BLOCKING]
    assert not blocking, f"[{where}]\n{summary(blocking)}"


def flash(page: Any, kind: str, text: str | re.Pattern[str]) -> None:
    from playwright.sync_api import expect

    expect(page.locator(f".flash-{kind}").filter(has_text=text).first).to_be_visible()


# --- 1. the office clerk ---------------------------------------------------------------


@pytest.mark.parametrize("viewport", ["phone", "desktop"])  # the desktop run receives it
def test_office_clerk_finds_and_receives_what_was_sent_to_the_office(
    viewport: str, new_page: Callable[..., Any], sent_to_office: str, shots: Shots
) -> None:
    from playwright.sync_api import expect

    clerk = open_as(new_page, "vanthu", SIZE[viewport])
    main = clerk.get_by_role("main")
    nav = clerk.get_by_role("navigation", name="Điều hướng chính")
    # The inbox says what waits, and the menu counts it.
    if viewport == "desktop":
        expect(main).to_contain_text(f"văn bản gửi đến {OFFICE} đang chờ tiếp nhận")
        expect(main).not_to_contain_text("Không có việc nào đang chờ bạn")
        expect(nav.locator("#count-incoming")).to_have_text(re.compile(r"^\d+ chờ tiếp nhận$"))
        expect(nav.locator("#count-tasks")).to_be_visible()  # the inbox counts it too
        shots(clerk, "clerk-inbox", viewport)
        # The notification links to where the document is received.
        nav.get_by_role("link", name="Thông báo", exact=True).click()
        note = main.locator("li", has_text=sent_to_office[:40]).first
        note.get_by_role("link", name="tiếp nhận văn bản đến").click()
    else:
        main.get_by_role("link", name=re.compile("Tiếp nhận văn bản đến")).first.click()
    expect(clerk.get_by_role("heading", level=1)).to_have_text("Văn bản đến")
    expect(clerk.locator(".meta")).to_contain_text(OFFICE)  # opened on the office's list
    switcher = clerk.get_by_role("navigation", name="Đơn vị nhận văn bản")
    expect(switcher.get_by_role("link", name=re.compile(OFFICE))).to_have_attribute(
        "aria-current", "page"
    )
    row = clerk.locator("tbody tr", has_text=sent_to_office)
    receive = row.get_by_role("button", name="Kiểm tra chữ ký và tiếp nhận")
    if viewport == "phone":
        no_blocking(clerk, "incoming (phone)")
        width = clerk.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, width  # no sideways scrolling: the rows are cards
        box = receive.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390 and box["height"] >= 44
        shots(clerk, "incoming-cards", viewport)
        return  # the desktop run receives it
    shots(clerk, "incoming-office", viewport)
    receive.click()
    flash(clerk, "ok", re.compile(r"Đã tiếp nhận văn bản, số đến \d+\. Chữ ký số hợp lệ"))
    expect(clerk.locator("tbody tr", has_text=sent_to_office)).to_contain_text("Đã tiếp nhận")
    shots(clerk, "incoming-received", viewport)


# --- 2. registers for the auditor and the administrator --------------------------------


@pytest.mark.parametrize("user", ["kiemtra", "admin"])
def test_registers_open_with_a_unit_picker_for_auditor_and_admin(
    user: str, new_page: Callable[..., Any], shots: Shots
) -> None:
    from playwright.sync_api import expect

    page = open_as(new_page, user, "laptop")
    page.get_by_role("link", name="Sổ văn bản đi", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(
        re.compile("sổ đăng ký văn bản đi", re.I)
    )
    expect(page.locator(".flash-error")).to_have_count(0)
    picker = page.get_by_label("Đơn vị", exact=True)
    expect(picker).to_be_visible()
    picker.select_option(label=OFFICE)
    page.get_by_role("button", name="Lọc").click()
    expect(page.locator(".meta")).to_contain_text(OFFICE)
    page.get_by_role("link", name="Sổ văn bản đến", exact=True).first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(
        re.compile("sổ đăng ký văn bản đến", re.I)
    )
    expect(page.locator(".flash-error")).to_have_count(0)
    shots(page, f"register-{user}", "desktop")


# --- 3, 5, 6, 9. signing where the preview shows ---------------------------------------


def overlay_points(page: Any) -> dict[str, float]:
    """The stamp overlay's box on its page, in points from the page's top left."""
    return page.evaluate(
        """() => {
            const o = document.querySelector('.stamp-overlay');
            const img = o.closest('.page-box').querySelector('img');
            const fig = o.closest('.pdf-page');
            const a = o.getBoundingClientRect(), p = img.getBoundingClientRect();
            const k = parseFloat(fig.dataset.width) / p.width;
            return {page: parseInt(fig.dataset.index, 10), x: (a.left - p.left) * k,
                    y: (a.top - p.top) * k, width: a.width * k, height: a.height * k};
        }"""
    )


def rendered(pdf: bytes, tmp: Path, name: str) -> Any:
    """The first page through pdftoppm at 72 dpi (1 pixel = 1 point), as a PIL image."""
    from PIL import Image

    source = tmp / f"{name}.pdf"
    source.write_bytes(pdf)
    subprocess.run(
        [
            "pdftoppm",
            "-r",
            "72",
            "-f",
            "1",
            "-l",
            "1",
            "-png",
            "-singlefile",
            str(source),
            str(tmp / name),
        ],
        check=True,
        capture_output=True,
    )
    return Image.open(tmp / f"{name}.png").convert("RGB")


def word_boxes(pdf: bytes, tmp: Path) -> list[tuple[float, float, float, float]]:
    """The document's words (pdftotext -bbox), top-left origin, points."""
    source = tmp / "words.pdf"
    source.write_bytes(pdf)
    html = subprocess.run(
        ["pdftotext", "-bbox", "-f", "1", "-l", "1", str(source), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    found = re.findall(
        r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">', html
    )
    return [tuple(float(v) for v in w) for w in found]  # type: ignore[misc]


def file_of(server: Served, doc_id: int) -> bytes:
    r = requests.get(
        f"{server.base}/api/v1/documents/{doc_id}/file",
        headers=api_token(server.base, "bithu"),
        timeout=60,
    )
    assert r.ok
    return r.content


@pytest.mark.skipif(not shutil.which("pdftoppm"), reason="poppler-utils missing")
def test_signer_signs_where_the_preview_shows_kept_across_a_wrong_passphrase(
    new_page: Callable[..., Any], server: Served, shots: Shots, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    subject = "Về việc ký đúng chỗ đã xem trước trên trang văn bản"
    doc_id = approved_for_bithu(server.base, subject)
    original = file_of(server, doc_id)
    signer = open_as(new_page, "bithu", "laptop")
    signer.get_by_role("main").get_by_role("link", name=re.compile(subject[:30])).first.click()
    sign = signer.get_by_role("button", name="Ký số", exact=True)
    # 9. The primary action is on the first screen of a 1366x768 display (measured once the
    # page has loaded: before its stylesheet arrives, a busy machine lays it out unstyled).
    signer.wait_for_load_state("load")
    box = sign.bounding_box()
    assert box and box["y"] + box["height"] <= DESKTOP["height"], box
    overlay = signer.locator(".stamp-overlay")
    expect(overlay).to_be_visible()
    expect(overlay).to_have_class(re.compile("stamp-default"))
    # The default place, in view at once (to the sub-pixel: scrolling rounds to a device pixel).
    expect(overlay).to_be_in_viewport(ratio=0.99)
    # 5. The preview is the stamp itself, transparent around its ink (no opaque box).
    alpha = signer.evaluate(
        """async () => {
            const img = document.querySelector('.stamp-overlay img');
            await img.decode();
            const c = document.createElement('canvas');
            c.width = img.naturalWidth; c.height = img.naturalHeight;
            const g = c.getContext('2d'); g.drawImage(img, 0, 0);
            const d = g.getImageData(0, 0, c.width, c.height).data;
            let clear = 0;
            for (let i = 3; i < d.length; i += 4) { if (d[i] === 0) clear++; }
            return clear / (d.length / 4);
        }"""
    )
    assert alpha > 0.5, alpha  # most of the box shows the page through it
    no_blocking(signer, "document (signer)")
    shots(signer, "preview-default", "desktop")

    # 3. Put it elsewhere, type a wrong passphrase: the place stays, the URL is a page.
    img = signer.locator("#page-0 .page-box > img")
    img.scroll_into_view_if_needed()
    page_box = img.bounding_box()
    assert page_box
    img.click(position={"x": page_box["width"] * 0.7, "y": page_box["height"] * 0.66})
    chosen = overlay_points(signer)
    signer.locator("form.sign-form input[type=password]").fill("sai-mat-khau")
    sign.click()
    flash(signer, "error", "Mật khẩu khóa ký số không đúng")
    assert "/sign-at" not in signer.url and re.search(r"/documents/\d+\?page=0&x=", signer.url)
    expect(overlay).not_to_have_class(re.compile("stamp-default"))
    kept = overlay_points(signer)
    for key in ("x", "y", "width", "height"):
        assert kept[key] == pytest.approx(chosen[key], abs=1), (key, kept, chosen)
    expect(signer.locator(".placement-status")).to_contain_text("vẫn ở vị trí bạn đã chọn")
    shots(signer, "kept-after-wrong-passphrase", "desktop")
    signer.reload()  # a reload is a GET: nothing is posted again
    expect(signer.locator(".flash-error")).to_have_count(0)

    # Back to the default place, signed with the right passphrase; 6: one request for a
    # double press, and the button says it is working.
    signer.get_by_role("button", name="Dùng vị trí mặc định").click()
    expect(overlay).to_have_class(re.compile("stamp-default"))
    preview = overlay_points(signer)
    posts: list[str] = []
    signer.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    signer.locator("form.sign-form input[type=password]").fill(DEMO_PASSWORD)
    signer.evaluate(  # what the button says while the server signs (kept across the load)
        """() => {
            const form = document.querySelector('form.sign-form');
            new MutationObserver(() => {
                const b = form.querySelector('button[type=submit]');
                sessionStorage.setItem('busy', JSON.stringify(
                    [form.getAttribute('aria-busy'), b.disabled, b.textContent]));
            }).observe(form, {attributes: true, subtree: true, childList: true});
        }"""
    )
    sign.dblclick()
    signer.wait_for_url(re.compile(rf"/documents/{doc_id}#signatures$"))
    flash(signer, "ok", "Đã ký số văn bản")
    expect(signer.locator(".flash-error")).to_have_count(0)
    assert len([u for u in posts if "/sign-at" in u]) == 1, posts
    busy = signer.evaluate("JSON.parse(sessionStorage.getItem('busy'))")
    assert busy == ["true", True, "Đang xử lý…"], busy
    shots(signer, "signed", "desktop")

    # The signed page (pdftoppm): the stamp's ink is inside the previewed box (1 pt),
    # and the box covers no word of the document (pdftotext -bbox).
    signed = file_of(server, doc_id)
    before, after = rendered(original, tmp_path, "before"), rendered(signed, tmp_path, "after")
    from PIL import ImageChops

    ink = ImageChops.difference(before, after).convert("L").point(lambda v: 255 if v > 40 else 0)
    changed = ink.getbbox()
    assert changed, "the stamp shows on the signed page"
    x1, y1, x2, y2 = changed
    px, py, pw, ph = preview["x"], preview["y"], preview["width"], preview["height"]
    assert preview["page"] == 0
    assert px - 1 <= x1 and py - 1 <= y1 and x2 <= px + pw + 1 and y2 <= py + ph + 1, (
        changed,
        preview,
    )
    reader = PdfReader(BytesIO(signed))
    [rect] = [
        [float(v) for v in a.get_object()["/Rect"]]
        for a in reader.pages[0].get("/Annots") or []
        if a.get_object().get("/FT") == "/Sig"
    ]
    assert rect[0] == pytest.approx(px, abs=1) and rect[2] == pytest.approx(px + pw, abs=1)
    assert A4[1] - rect[3] == pytest.approx(py, abs=1)
    assert A4[1] - rect[1] == pytest.approx(py + ph, abs=1)
    words = word_boxes(original, tmp_path)
    assert any(w for w in words), "the document has text"
    covered = [w for w in words if w[0] < px + pw and px < w[2] and w[1] < py + ph and py < w[3]]
    assert covered == [], covered
    # 5. The stamp's time as a Vietnamese reader writes it (the ISO time is in the data).
    text = subprocess.run(
        ["pdftotext", "-f", "1", "-l", "1", str(tmp_path / "after.pdf"), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert re.search(r"Ngày \d{2}/\d{2}/\d{4} \d{2}:\d{2}", text), text
    assert "+07:00" not in text


# --- 4. bulk signing ---------------------------------------------------------------------


@pytest.mark.skipif(not shutil.which("pdfsig"), reason="poppler-utils missing")
def test_issuance_writes_number_and_date_into_the_documents_own_lines(
    new_page: Callable[..., Any], server: Served, shots: Shots, tmp_path: Path
) -> None:
    """5. The clerk issues a document whose first page has "Số:        -CV/ĐUK" and
    "Hà Nội, ngày    tháng    năm 2026": the page then shows the number and date there
    (and nowhere over the document's own words), every signature still valid."""
    from PIL import ImageChops
    from playwright.sync_api import expect

    subject = "Về việc ghi số và ngày ban hành vào dòng Số của văn bản"
    created = _post(
        server.base,
        "chuyenvien",
        "/api/v1/documents",
        files={"file": ("so-ngay.pdf", party_pdf(subject), "application/pdf")},
        data={"subject": subject, "doc_type": "CV", "route": "thuong-truc-ban-hanh"},
    )
    doc_id = int(created.json()["id"])
    _post(server.base, "chuyenvien", f"/api/v1/documents/{doc_id}/submit")
    for user in ("truongban", "vanthu"):
        _post(server.base, user, f"/api/v1/tasks/{_task(server.base, user, doc_id)}/approve")
    _post(
        server.base,
        "bithu",
        f"/api/v1/tasks/{_task(server.base, 'bithu', doc_id)}/sign",
        json={"passphrase": DEMO_PASSWORD},
    )
    signed = file_of(server, doc_id)

    clerk = open_as(new_page, "vanthu", "laptop")
    clerk.goto(f"/documents/{doc_id}")
    issue = clerk.locator("form[action*='/issue']")
    expected = re.search(r"\d{2,}-CV/ĐUK", issue.locator(".number-preview").inner_text())
    assert expected, "the clerk sees the number before issuing"
    expect(issue).to_contain_text("sẽ được ghi vào dòng «Số:» và dòng ngày tháng")
    issue.get_by_role("button", name="Ban hành", exact=True).click()
    flash(clerk, "ok", "Đã ban hành văn bản")
    expect(clerk.get_by_role("main")).to_contain_text("Tất cả chữ ký hợp lệ")
    expect(clerk.locator("#page-0 .page-box > img")).to_be_visible()
    # The certificates named in words on the document page (no 2.5.4.12=, no CN=).
    signatures = clerk.get_by_role("main")
    expect(signatures).to_contain_text("Chứng thư: Lê Văn Đức (")
    expect(signatures).not_to_contain_text("2.5.4.")
    expect(signatures).not_to_contain_text("CN=")
    shots(clerk, "issued-number-line", "desktop")

    issued = file_of(server, doc_id)
    symbol = expected.group(0)
    out = tmp_path / "issued.pdf"
    out.write_bytes(issued)
    text = subprocess.run(
        ["pdftotext", "-layout", "-f", "1", "-l", "1", str(out), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    line = next(t for t in text.splitlines() if "Số" in t)
    assert symbol in line.replace(" ", ""), text  # "Số 07-CV/ĐUK" on the Số line
    assert re.search(r"ngày\s*\d{2}\s*tháng\s*\d{1,2}\s*năm\s*2026", line), text

    # What changed on the rendered page lies in the blanks, over no word of the document.
    before, after = rendered(signed, tmp_path, "signed"), rendered(issued, tmp_path, "issued")
    band = (0, 842 - 764 - 14, 595, 842 - 764 + 6)  # the line at baseline 764, top-left origin
    diff = ImageChops.difference(before.crop(band), after.crop(band)).convert("L")
    changed = diff.point(lambda v: 255 if v > 60 else 0).getbbox()
    assert changed is not None, "nothing written on the Số line"
    # the header of the issued page as pdftoppm renders it, kept beside the screenshots
    after.crop((40, 40, 560, 110)).save(SCREENSHOTS / "issuance-number-line-header.png")
    words = [w for w in word_boxes(signed, tmp_path) if band[1] <= w[1] and w[3] <= band[3]]
    ink = diff.point(lambda v: 255 if v > 60 else 0)
    for x1, y1, x2, y2 in words:
        inside = ink.crop((int(x1) + 1, int(y1 - band[1]) + 1, int(x2) - 1, int(y2 - band[1]) - 1))
        assert inside.getbbox() is None, ("written over a word", (x1, y1, x2, y2))

    # Every signature valid for poppler too: the signer's, the number line's, the seal's.
    pdfsig = subprocess.run(["pdfsig", str(out)], capture_output=True, text=True).stdout
    assert pdfsig.count("Signature Validation: Signature is Valid.") == 3, pdfsig
    assert "SoVanBan_" in pdfsig, pdfsig


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_bulk_signing_starts_with_nothing_ticked_and_confirms_the_count(
    viewport: str, new_page: Callable[..., Any], server: Served, shots: Shots
) -> None:
    from playwright.sync_api import expect

    subjects = [f"Về việc ký hàng loạt số {n} ({viewport})" for n in (1, 2)]
    for subject in subjects:
        approved_for_bithu(server.base, subject)
    signer = open_as(new_page, "bithu", SIZE[viewport])
    bulk = signer.locator("form.bulk-sign")
    expect(bulk).to_be_visible()
    boxes = bulk.get_by_role("checkbox")
    assert boxes.count() >= 2
    for i in range(boxes.count()):
        expect(boxes.nth(i)).not_to_be_checked()
    expect(bulk.locator("input[type=password]")).to_have_count(0)
    row = bulk.locator(".bulk-row", has_text=subjects[0])
    expect(row).to_contain_text("Công văn")
    expect(row.get_by_role("link", name="Xem văn bản")).to_be_visible()
    shots(signer, "bulk-nothing-ticked", viewport)
    bulk.get_by_role("button", name="Tiếp tục với các văn bản đã chọn").click()
    flash(signer, "error", "Hãy chọn ít nhất một văn bản")
    for subject in subjects:
        signer.locator("form.bulk-sign .bulk-row", has_text=subject).get_by_role("checkbox").check()
    signer.get_by_role("button", name="Tiếp tục với các văn bản đã chọn").click()
    expect(signer.get_by_role("heading", level=2)).to_have_text("Bạn sắp ký 2 văn bản")
    main = signer.get_by_role("main")
    for subject in subjects:
        expect(main).to_contain_text(subject)
    expect(main.get_by_role("link", name="Trang đầu")).to_have_count(2)
    expect(signer.get_by_role("button", name="Ký 2 văn bản")).to_be_visible()
    no_blocking(signer, f"bulk confirmation ({viewport})")
    shots(signer, "bulk-confirm", viewport)


# --- 8. the drafter sees why it came back -------------------------------------------------


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_drafter_sees_the_return_comment_and_truthful_stages(
    viewport: str, new_page: Callable[..., Any], server: Served, shots: Shots
) -> None:
    from playwright.sync_api import expect

    subject = f"Về việc bổ sung số liệu báo cáo quý ({viewport})"
    comment = "Đề nghị bổ sung số liệu quý IV và sửa lại phần kiến nghị."
    created = _post(
        server.base,
        "chuyenvien",
        "/api/v1/documents",
        files={"file": ("bc.pdf", party_pdf(subject), "application/pdf")},
        data={"subject": subject, "doc_type": "BC"},
    )
    doc_id = int(created.json()["id"])
    _post(server.base, "chuyenvien", f"/api/v1/documents/{doc_id}/submit")
    task = _task(server.base, "truongban", doc_id)
    _post(server.base, "truongban", f"/api/v1/tasks/{task}/return", json={"comment": comment})

    drafter = open_as(new_page, "chuyenvien", SIZE[viewport])
    item = drafter.get_by_role("main").locator("li", has_text=subject)
    expect(item).to_contain_text(comment)  # in the inbox
    item.get_by_role("link").first.click()
    revise = drafter.locator("#revise")
    expect(revise).to_contain_text("Lý do trả lại")
    expect(revise).to_contain_text(comment)
    exchange = drafter.locator(
        "section", has=drafter.get_by_role("heading", name="Ý kiến trao đổi")
    )
    expect(exchange).to_contain_text(comment)
    expect(exchange).not_to_contain_text("Chưa có ý kiến")
    timeline = drafter.locator("ol.timeline > li").first
    expect(timeline).to_contain_text("đã trả lại")
    expect(timeline).not_to_contain_text("đã xong")
    no_blocking(drafter, f"returned document ({viewport})")
    shots(drafter, "returned", viewport)


# --- 10. the smaller traps ---------------------------------------------------------------


def test_smaller_traps_search_defaults_and_the_code_on_paper(
    new_page: Callable[..., Any], server: Served, shots: Shots
) -> None:
    from playwright.sync_api import expect

    admin = open_as(new_page, "admin", "laptop")
    admin.goto("/admin/users")
    admin.get_by_label("Tìm theo tên, tên đăng nhập, chức vụ, thư điện tử").fill("phuong")
    admin.get_by_label("Tìm theo tên, tên đăng nhập, chức vụ, thư điện tử").press("Enter")
    expect(admin.locator("tbody")).to_contain_text("Trần Văn Phương")  # no diacritics typed
    admin.get_by_label("Tìm theo tên, tên đăng nhập, chức vụ, thư điện tử").fill("")
    admin.get_by_label("Tìm theo tên, tên đăng nhập, chức vụ, thư điện tử").press("Enter")
    admin.wait_for_url(re.compile(r"[?&]q=(&|$)"))  # everybody again
    names = [n.strip() for n in admin.locator("tbody tr td:first-child a").all_inner_texts()]
    first_letters = [n[0] for n in names]
    # Vietnamese order: Đ right after D, not after Z.
    assert first_letters.index("Đ") < first_letters.index("H"), names
    shots(admin, "users-search", "desktop")
    admin.goto("/admin/units")
    parent = admin.get_by_label("Đơn vị cấp trên")
    expect(parent.locator("option:checked")).to_contain_text("Đảng ủy Khối")
    expect(parent.locator("option:checked")).not_to_contain_text("Ban Kiểm tra")

    # A delegation names nobody until the approver chooses (own board first).
    subject = "Về việc ủy quyền không chọn sẵn người nhận"
    created = _post(
        server.base,
        "chuyenvien",
        "/api/v1/documents",
        files={"file": ("uq.pdf", party_pdf(subject), "application/pdf")},
        data={"subject": subject, "doc_type": "CV"},
    )
    _post(server.base, "chuyenvien", f"/api/v1/documents/{created.json()['id']}/submit")
    head = open_as(new_page, "truongban", "laptop")
    head.get_by_role("main").get_by_role("link", name=re.compile(subject)).first.click()
    head.get_by_text("Trả lại, từ chối hoặc ủy quyền").click()
    delegate = head.get_by_label("Ủy quyền cho")
    expect(delegate.locator("option:checked")).to_have_text("— Chọn người nhận ủy quyền —")
    options = delegate.locator("option").all_inner_texts()
    assert "Nguyễn Thị Hồng Nhung" in options[1], options  # the same board first

    # The audit log: filters, words rather than codes, feedback for the full check.
    auditor = open_as(new_page, "kiemtra", "laptop")
    auditor.get_by_role("link", name="Nhật ký", exact=True).click()
    auditor.get_by_label("Người thực hiện").fill("phuong")
    auditor.get_by_label("Đối tượng").select_option(label="Văn bản")
    auditor.get_by_role("button", name="Lọc").click()
    rows = auditor.locator("table.cards tbody tr")
    expect(rows.first).to_be_visible()
    for row in rows.all():
        expect(row.locator("td").nth(2)).to_have_text("Trần Văn Phương")
        expect(row.locator("td").nth(4)).to_contain_text(re.compile(r"^Văn bản số \d+"))
    expect(auditor.get_by_role("main")).not_to_contain_text("document #")
    auditor.get_by_role("button", name="Kiểm tra toàn bộ chuỗi").click()
    flash(auditor, "ok", re.compile(r"Đã kiểm tra toàn bộ chuỗi: \d+ bản ghi, toàn vẹn"))
    shots(auditor, "audit-filtered", "desktop")

    # The code printed on paper: a public page to type it, and a useful "not found".
    visitor = new_page("phone")
    visitor.goto("/v")
    visitor.get_by_label("Mã xác thực").fill("khong-co-ma")
    visitor.get_by_role("button", name="Tra cứu").click()
    expect(visitor.get_by_role("alert")).to_contain_text("Mã xác thực không đúng dạng")
    visitor.goto("/v/ABCDEFGHJK")
    expect(visitor.get_by_role("main")).to_contain_text("Tra cứu văn bản bằng mã xác thực")
    expect(
        visitor.get_by_role("main").get_by_role("link", name="Về trang việc cần xử lý")
    ).to_have_count(0)
    visitor.get_by_role("link", name="Tra cứu văn bản bằng mã xác thực").click()
    expect(visitor.get_by_label("Mã xác thực")).to_be_visible()
    no_blocking(visitor, "code lookup (phone)")
    shots(visitor, "code-lookup", "phone")


# --- 7, 9, 10. phone charts, certificate names, a refused upload explained at its field ---


CHART_TEXT = """() => Array.from(document.querySelectorAll('svg[viewBox]'))
    .filter(s => s.getBoundingClientRect().width > 0 && s.querySelector('text'))
    .map(s => {
        const k = s.getBoundingClientRect().width / s.viewBox.baseVal.width;
        return Math.min(...Array.from(s.querySelectorAll('text'))
            .map(t => parseFloat(t.getAttribute('font-size')) * k));
    })"""


def test_phone_charts_certificate_names_and_a_refused_upload(
    new_page: Callable[..., Any], sent_to_office: str, shots: Shots
) -> None:
    from playwright.sync_api import expect

    del sent_to_office  # an issued document: the coverage charts have figures
    # 7. The coverage charts on a phone: labels of at least 12 px, nothing sideways.
    auditor = open_as(new_page, "kiemtra", "phone", has_touch=True, is_mobile=True)
    auditor.goto("/coverage")
    expect(auditor.get_by_role("heading", level=1)).to_be_visible()
    smallest = auditor.evaluate(CHART_TEXT)
    assert smallest and min(smallest) >= 12, smallest
    assert auditor.evaluate("document.documentElement.scrollWidth") <= 390
    # The figures table as cards: each target's card names its figures, none clipped.
    card = auditor.locator("table.figure-cards tbody tr", has_text="T2:").first
    figure = card.get_by_role("cell", name=re.compile(r"^Tỷ lệ \d"))  # labelled figures
    expect(figure).to_be_visible()
    expect(card.get_by_role("cell", name=re.compile(r"^Mục tiêu năm"))).to_be_visible()
    width = figure.bounding_box()
    assert width and width["width"] >= 120, width  # a readable column, not a sliver
    no_blocking(auditor, "coverage (phone)")
    shots(auditor, "coverage-charts", "phone")
    desktop = open_as(new_page, "kiemtra", "laptop")
    desktop.goto("/coverage")
    wide = desktop.evaluate(CHART_TEXT)
    assert wide and min(wide) >= 10, wide  # the wide drawing on a desktop
    expect(desktop.locator("svg.chart-narrow").first).to_be_hidden()

    # 10. Certificate names in words: no attribute numbers (2.5.4.12 = title).
    signer = open_as(new_page, "bithu", "laptop")
    signer.goto("/certificates")
    main = signer.get_by_role("main")
    expect(main).to_contain_text("Chức danh:")
    expect(main).not_to_contain_text("2.5.4.")
    expect(main).not_to_contain_text("CN=")
    expect(main).not_to_contain_text("translate=")  # the names' markup is markup
    shots(signer, "certificate-names", "desktop")

    # 9. A file that is not a usable draft: told at the field, with what to do; gone as
    # soon as a PDF is chosen.
    drafter = open_as(new_page, "chuyenvien", "laptop")
    drafter.goto("/documents/new")
    field = drafter.get_by_label("Tệp PDF")
    field.set_input_files(
        {
            "name": "du-thao.docx",
            "mimeType": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "buffer": b"Day khong phai tep Word that",
        }
    )
    drafter.get_by_label("Trích yếu nội dung").fill("Về việc tải lên tệp Word hỏng")
    drafter.get_by_role("button", name="Tải lên", exact=True).click()
    error = drafter.locator("#file-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("du-thao.docx")
    expect(error).to_contain_text("Lưu thành (Save As) với định dạng PDF")
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(drafter.locator("#upload-error")).to_be_hidden()
    field_box, error_box = field.bounding_box(), error.bounding_box()
    assert field_box and error_box
    assert 0 <= error_box["y"] - (field_box["y"] + field_box["height"]) < 80  # right under it
    no_blocking(drafter, "upload refused")
    shots(drafter, "upload-refused", "desktop")
    field.set_input_files(
        {"name": "du-thao.pdf", "mimeType": "application/pdf", "buffer": party_pdf("Dự thảo")}
    )
    expect(error).to_be_hidden()
    expect(field).not_to_have_attribute("aria-invalid", "true")
    shots(drafter, "upload-pdf-chosen", "desktop")
