"""The viewer journey in Chromium: drop a PDF on the upload page (progress bar, route
preview), approve, then sign with the stamp placed by a click on the rendered page at
150 % zoom, and check where the signature's widget landed in the signed PDF; axe-core on
the upload and document pages. Screenshots in test-artifacts/screenshots/."""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Callable
from io import BytesIO
from typing import Any

import pytest
import requests
from pypdf import PdfReader

from tests.browser.conftest import Shots, api_token, login
from tests.browser.test_accessibility import BLOCKING, axe_violations, summary
from tests.conftest import DEMO_PASSWORD
from tests.servers import Served

pytestmark = pytest.mark.browser

A4_WIDTH, A4_HEIGHT = 595.0, 842.0


def large_pdf(target: int = 600_000) -> bytes:
    """A valid two-page A4 PDF of about ``target`` bytes (an incompressible image)."""
    from PIL import Image
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    side = int((target / 3) ** 0.5)
    noise = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    out = BytesIO()
    pdf = canvas.Canvas(out, pagesize=(A4_WIDTH, A4_HEIGHT))
    pdf.setFont("Helvetica", 14)
    pdf.drawString(72, 770, "Cong van thu nghiem - trang 1")
    pdf.drawImage(ImageReader(noise), 72, 300, width=300, height=300)
    pdf.showPage()
    pdf.drawString(72, 770, "Trang 2")
    pdf.showPage()
    pdf.save()
    return out.getvalue()


def drop_file(page: Any, selector: str, name: str, data: bytes) -> None:
    """Dispatch a real drop event carrying the file (a DataTransfer, as a drag would)."""
    page.evaluate(
        """([selector, name, b64]) => {
            const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], name, {type: "application/pdf"}));
            const zone = document.querySelector(selector);
            zone.dispatchEvent(new DragEvent("dragover", {dataTransfer: transfer, bubbles: true, cancelable: true}));
            zone.dispatchEvent(new DragEvent("drop", {dataTransfer: transfer, bubbles: true, cancelable: true}));
        }""",
        [selector, name, base64.b64encode(data).decode()],
    )


def record_progress(page: Any) -> None:
    """Keep every value the progress bar shows in sessionStorage (survives navigation)."""
    page.evaluate(
        """() => {
            const bar = document.getElementById("upload-bar");
            sessionStorage.setItem("progress", "[]");
            new MutationObserver(() => {
                const seen = JSON.parse(sessionStorage.getItem("progress"));
                seen.push(Number(bar.value));
                sessionStorage.setItem("progress", JSON.stringify(seen));
            }).observe(bar, {attributes: true, attributeFilter: ["value"]});
        }"""
    )


def signature_rects(pdf: bytes) -> list[tuple[int, list[float]]]:
    reader = PdfReader(BytesIO(pdf))
    return [
        (index, [float(v) for v in annot.get_object()["/Rect"]])
        for index, page in enumerate(reader.pages)
        for annot in page.get("/Annots") or []
        if annot.get_object().get("/FT") == "/Sig"
    ]


def no_blocking_violations(page: Any, where: str) -> None:
    blocking = [v for v in axe_violations(page) if v["impact"] in BLOCKING]
    assert not blocking, f"[{where}]\n{summary(blocking)}"


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_drop_upload_then_sign_where_clicked(
    viewport: str, new_page: Callable[..., Any], server: Served, shots: Shots
) -> None:
    subject = f"Về việc đặt chữ ký trên trang văn bản ({viewport})"
    drafter = new_page(viewport)
    login(drafter, "chuyenvien")
    drafter.goto("/documents/new")
    # The route preview: the default route's stages with the people who will act.
    drafter.wait_for_selector("#route-preview[data-loaded] ol.route-steps li")
    preview = drafter.inner_text("#route-preview")
    assert "Trần Văn Phương" in preview and "Lê Văn Đức" in preview, preview
    drafter.select_option("#route", "thuong-truc-ban-hanh")
    drafter.wait_for_function(
        "document.querySelectorAll('#route-preview ol.route-steps li').length === 4"
    )
    drafter.select_option("#route", "thuong-truc-ky")
    drafter.wait_for_function(
        "document.querySelectorAll('#route-preview ol.route-steps li').length === 2"
    )
    no_blocking_violations(drafter, "upload")

    # A refused file: the server's explanation shows next to the file field, with what to
    # do; the form stays filled.
    drop_file(drafter, "#dropzone", "khong-phai-pdf.pdf", b"not a pdf at all")
    drafter.fill("#subject", subject)
    drafter.click("#upload-submit")
    drafter.wait_for_selector("#file-error:not([hidden])")
    refusal = drafter.inner_text("#file-error")
    assert "không phải PDF" in refusal and "Lưu thành (Save As)" in refusal
    assert drafter.url.endswith("/documents/new") and drafter.input_value("#subject") == subject
    shots(drafter, "upload-refused", viewport)

    data = large_pdf()
    assert 500_000 < len(data) < 900_000  # large enough to watch, under the 1 MB test limit
    drop_file(drafter, "#dropzone", "dat-chu-ky.pdf", data)
    assert drafter.eval_on_selector("#file", "i => i.files.length && i.files[0].name") == (
        "dat-chu-ky.pdf"
    )
    assert "dat-chu-ky.pdf" in drafter.inner_text("#file-info")
    assert drafter.is_hidden("#file-error")  # the refusal goes once a usable file is chosen
    drafter.fill("#subject", subject)
    drafter.select_option("#urgency", "khan")
    shots(drafter, "upload-dropped", viewport)

    # Slow the upload down so the bar moves in steps (and can be photographed).
    cdp = drafter.context.new_cdp_session(drafter)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 300_000},
    )
    record_progress(drafter)
    drafter.click("#upload-submit")
    drafter.wait_for_selector("#upload-progress:not([hidden])")
    drafter.wait_for_function("Number(document.getElementById('upload-bar').value) > 0")
    shots(drafter, "upload-progress", viewport)
    drafter.wait_for_url(re.compile(r"/documents/\d+$"), timeout=60_000)
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    seen = drafter.evaluate("JSON.parse(sessionStorage.getItem('progress') || '[]')")
    assert seen and max(seen) == 100 and any(0 < v < 100 for v in seen), seen
    doc_id = int(drafter.url.rsplit("/", 1)[1])
    drafter.wait_for_selector("#viewer")
    assert "Văn bản đã được trình" in drafter.inner_text(".flash-ok")
    assert "Đang xin ý kiến duyệt" in drafter.inner_text("main")
    assert "Khẩn" in drafter.inner_text("main")

    # The viewer: both pages rendered, zoom and page navigation.
    drafter.wait_for_function(
        "[...document.querySelectorAll('.pdf-page img')].every(i => i.complete && i.naturalWidth > 0)"
    )
    assert drafter.locator(".pdf-page").count() == 2
    drafter.click("button[data-action=zoom-in]")
    assert drafter.inner_text("#viewer-zoom") == "125%"
    drafter.click("button[data-action=next]")
    assert drafter.input_value("#viewer-page") == "2"
    drafter.click("button[data-action=fit]")
    drafter.focus("#viewer-scroll")
    drafter.keyboard.press("+")
    assert drafter.inner_text("#viewer-zoom") == "125%"
    drafter.keyboard.press("-")
    assert drafter.inner_text("#viewer-zoom") == "100%"
    no_blocking_violations(drafter, "document (drafter)")
    shots(drafter, "document-viewer", viewport)

    head = new_page(viewport)
    login(head, "truongban")
    head.goto(f"/documents/{doc_id}")
    head.fill("textarea[id^=comment-]", "Đồng ý trình ký.")
    head.click("form[action*='/approve'] button.primary")
    head.wait_for_url(re.compile(r"/$"))

    signer = new_page(viewport)
    login(signer, "bithu")
    signer.goto(f"/documents/{doc_id}")
    overlay = signer.locator(".stamp-overlay")
    overlay.wait_for(state="visible")  # the default place, dashed, with the stamp preview
    assert "stamp-default" in (overlay.get_attribute("class") or "")
    assert signer.locator(".stamp-overlay img").count() == 1
    no_blocking_violations(signer, "document (signer)")
    shots(signer, "sign-default-place", viewport)

    signer.click("button[data-action=zoom-in]")
    signer.click("button[data-action=zoom-in]")
    signer.click("button[data-action=zoom-in]")
    assert signer.inner_text("#viewer-zoom") == "200%"
    first = signer.locator("#page-0 .page-box > img")
    first.scroll_into_view_if_needed()
    box = first.bounding_box()
    fx, fy = 0.3, 0.25  # a point of the first page, as fractions of its width and height
    first.click(position={"x": box["width"] * fx, "y": box["height"] * fy})
    assert "stamp-default" not in (overlay.get_attribute("class") or "")
    sent_x = float(signer.input_value("form.sign-form input[name=x]"))
    sent_y = float(signer.input_value("form.sign-form input[name=y]"))
    assert signer.input_value("form.sign-form input[name=page]") == "0"
    # Screen pixels at 200 % map to points: the fraction of the page times its size.
    # (Playwright clicks at whole CSS pixels: allow one and a half of them.)
    pixel = A4_WIDTH / box["width"]
    assert sent_x == pytest.approx(fx * A4_WIDTH, abs=1.5 * pixel)
    assert sent_y == pytest.approx(fy * A4_HEIGHT, abs=1.5 * pixel)
    # The overlay is the stamp's real size on the page, centred on the click.
    shown = overlay.bounding_box()
    scale = box["width"] / A4_WIDTH
    assert shown["width"] == pytest.approx(200 * scale, abs=2)
    assert shown["height"] == pytest.approx(110 * scale, abs=2)
    assert shown["x"] + shown["width"] / 2 == pytest.approx(box["x"] + box["width"] * fx, abs=2)
    assert "trang 1" in signer.inner_text(".placement-status")
    # The arrow keys move it (10 pt a press) for those who do not use a mouse.
    overlay.focus()
    signer.keyboard.press("ArrowRight")
    signer.keyboard.press("ArrowLeft")
    assert float(signer.input_value("form.sign-form input[name=x]")) == pytest.approx(sent_x)
    shots(signer, "sign-placed", viewport)

    task = re.search(r"/tasks/(\d+)/sign-at", signer.get_attribute("form.sign-form", "action"))
    assert task
    signer.fill(f"#passphrase-{task.group(1)}", DEMO_PASSWORD)
    signer.click("form.sign-form button[type=submit]")
    signer.wait_for_url(re.compile(rf"/documents/{doc_id}#signatures$"), timeout=60_000)
    main = signer.inner_text("main")
    assert "Tất cả chữ ký hợp lệ" in main and "Chữ ký đã được kiểm tra hợp lệ" in main
    # The viewer now shows the signed revision, stamp included (a new URL: no stale cache).
    assert "rev=2" in (signer.get_attribute("#page-0 .page-box > img", "src") or "")
    signer.wait_for_function(
        "[...document.querySelectorAll('.pdf-page img')].every(i => i.complete && i.naturalWidth > 0)"
    )
    shots(signer, "signed", viewport)

    pdf = requests.get(
        f"{server.base}/api/v1/documents/{doc_id}/file",
        headers=api_token(server.base, "bithu"),
        timeout=30,
    ).content
    [(index, rect)] = signature_rects(pdf)
    assert index == 0
    # The widget's centre is the clicked point in PDF user space (y from the bottom);
    # the box is rounded to whole points when the field is made.
    assert (rect[0] + rect[2]) / 2 == pytest.approx(sent_x, abs=1)
    assert (rect[1] + rect[3]) / 2 == pytest.approx(A4_HEIGHT - sent_y, abs=1)
    assert (rect[2] - rect[0], rect[3] - rect[1]) == (200, 110)
