"""workflow: the report on the coverage targets, laid out as a PDF and sealed with the
organisation's signature."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from signing.keys import load_signer
from signing.pades import sign_pdf_file
from signing.profiles import SigningProfile, TrustConfig
from signing.stamps import StampContent, StampPlacement
from signing.validate import validate_pdf
from storage import audit
from storage.blobs import BlobStore
from storage.models import Unit, User
from workflow.coverage.rules import TARGET_LABELS
from workflow.errors import ConflictError
from workflow.registry import issuers
from workflow.signatures.flow import SigningFailedError
from workflow.viewer.geometry import seal_box
from workflow.vocab import VN_TZ

# --- the signed report -------------------------------------------------------------------

FONT = Path(__file__).resolve().parents[2] / "signing" / "fonts" / "DejaVuSans-upem1000.ttf"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%".replace(".", ",")


def _report_lines(data: dict[str, Any], now: datetime) -> list[tuple[str, str]]:
    """(style, text) lines of the report: ``h`` heading, ``t`` text, ``s`` small."""
    scope, period = data["scope"], data["period"]
    met = {True: "đạt", False: "chưa đạt", None: "chưa có số liệu"}
    lines = [
        ("h", "BÁO CÁO KẾT QUẢ THỰC HIỆN CHỈ TIÊU CHUYỂN ĐỔI SỐ"),
        ("t", f"Phạm vi: {scope.unit.name if scope.unit else 'Toàn Đảng bộ Khối'}"),
        ("t", f"Kỳ báo cáo: {period.code} ({period.start:%d/%m/%Y} - {period.end:%d/%m/%Y})"),
        (
            "s",
            f"Lập lúc {now.astimezone(VN_TZ):%d/%m/%Y %H:%M} (giờ Việt Nam) từ sổ theo dõi chỉ tiêu.",
        ),
        ("h", "1. Kết quả chung"),
    ]
    for t in ("T1", "T2", "T3", "T4"):
        f = data["figures"][t]
        lines.append(
            (
                "t",
                f"{t} - {TARGET_LABELS[t]}: {f['numerator']}/{f['denominator']} = "
                f"{_pct(f['figure'])}; mục tiêu {_pct(f['target'])}; {met[f['met']]}; "
                f"miễn trừ {f['exempt']}.",
            )
        )
    lines.append(("h", "2. Theo đơn vị"))
    for row in data["units"]:
        figs = row["figures"]
        parts = ", ".join(
            f"{t} {_pct(figs[t]['figure'])} ({figs[t]['numerator']}/{figs[t]['denominator']})"
            for t in ("T1", "T2", "T3", "T4")
        )
        lines.append(("s", f"{row['unit'].name}: {parts}"))
    lines.append(("h", "3. Miễn trừ theo lý do"))
    for ex in data["exemptions"] or [{"target": "", "reason": "Không có", "count": 0}]:
        lines.append(("s", f"{ex['target']} {ex['reason']}: {ex['count']}"))
    lines += [
        ("h", "4. Phương pháp"),
        ("s", "Tỷ lệ = số đạt / (tổng số - số miễn trừ). Văn bản được coi là đã ký số khi mọi"),
        ("s", "chữ ký PAdES trên bản ban hành được kiểm tra hợp lệ, tin cậy, nguyên vẹn và chữ ký"),
        ("s", "cuối bao phủ toàn bộ tệp. Văn bản mật được miễn trừ theo quy định."),
    ]
    return lines


def _layout_pdf(path: Path, lines: list[tuple[str, str]]) -> None:
    from reportlab.lib.pagesizes import A4  # lazy: only the report needs reportlab
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen.canvas import Canvas

    if "DejaVuSans" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("DejaVuSans", str(FONT)))
    width, height = A4
    canvas = Canvas(str(path), pagesize=A4, invariant=True)
    canvas.setTitle("Báo cáo chỉ tiêu chuyển đổi số")
    y = height - 60
    sizes = {"h": 12, "t": 10, "s": 8.5}
    for style, text in lines:
        size = sizes[style]
        if y < 200:  # keep room at the bottom for the seal stamp
            canvas.showPage()
            y = height - 60
        canvas.setFont("DejaVuSans", size)
        chunks = [text[i : i + int(900 / size)] for i in range(0, len(text), int(900 / size))]
        for chunk in chunks:
            canvas.drawString(50, y, chunk)
            y -= size + 5
        if style == "h":
            y -= 4
    canvas.save()


def build_signed_report(
    session: Session,
    blobs: BlobStore,
    trust: TrustConfig,
    seal_passphrase: str,
    actor: User,
    data: dict[str, Any],
    *,
    now: datetime,
) -> str:
    """Lay out the report, seal it with the organisation's signature (as issuance does),
    check that it validates, keep it in the blob store and audit it (caller commits).

    :returns: the SHA-256 of the signed report.
    :raises ConflictError: the organisation has no seal certificate.
    """
    org = session.scalars(select(Unit).where(Unit.parent_id.is_(None)).order_by(Unit.id)).first()
    if org is None:
        raise ConflictError("Chưa có đơn vị gốc của tổ chức.")
    cert = issuers.seal_certificate(session, org)
    try:
        signer = load_signer(
            cert.cert_pem.encode(),
            cert.encrypted_key_pem.encode(),
            seal_passphrase,
            trust.other_certs_pem,
        )
    except Exception as exc:  # noqa: BLE001 - any key problem is the server's
        raise SigningFailedError("Không mở được khóa ký số của tổ chức. Hãy báo quản trị.") from exc
    plain = blobs.new_temp_path(".pdf")
    signed = blobs.new_temp_path(".pdf")
    try:
        _layout_pdf(plain, _report_lines(data, now))
        profile = SigningProfile(
            field_name="DauCoQuan_BaoCaoChiTieu",
            reason=f"Báo cáo chỉ tiêu chuyển đổi số kỳ {data['period'].code}",
            location=org.name,
            stamp=StampContent(
                heading="Ký số bởi tổ chức",
                signer_name=org.name,
                title=f"Báo cáo kỳ {data['period'].code}",
                unit=f"Lập theo yêu cầu của {actor.full_name}",
                signed_at=now,
            ),
            placement=StampPlacement(page=-1, box=seal_box(plain)),
        )
        sign_pdf_file(plain, signed, signer, profile)
        report = validate_pdf(signed, trust)
        if not report.bottom_line:
            raise SigningFailedError("Báo cáo vừa ký không vượt qua bước kiểm tra chữ ký.")
        sha = blobs.publish(blobs.stage_file(signed))
    finally:
        plain.unlink(missing_ok=True)
        signed.unlink(missing_ok=True)
    audit.append(
        session,
        "ledger:report_signed",
        actor_id=actor.id,
        object_type="ledger_report",
        object_id=data["period"].code,
        details={
            "sha256": sha,
            "seal": cert.fingerprint,
            "unit": data["scope"].unit.code if data["scope"].unit else None,
        },
        at=now,
    )
    return sha
