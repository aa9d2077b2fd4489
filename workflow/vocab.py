"""workflow: Vietnamese vocabulary of the domain, every label once (document types, urgency,
classification, states, actions, roles, audit actions); translated where shown."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime, timedelta, timezone

VN_TZ = timezone(timedelta(hours=7), "ICT")

DOC_TYPES: dict[str, str] = {
    "NQ": "Nghị quyết",
    "QĐ": "Quyết định",
    "CT": "Chỉ thị",
    "KL": "Kết luận",
    "QC": "Quy chế",
    "QĐi": "Quy định",
    "HD": "Hướng dẫn",
    "BC": "Báo cáo",
    "KH": "Kế hoạch",
    "ĐA": "Đề án",
    "CTr": "Chương trình",
    "TB": "Thông báo",
    "TTr": "Tờ trình",
    "CV": "Công văn",
    "BB": "Biên bản",
}

# ASCII spellings accepted from integrations that cannot type Đ.
DOC_TYPE_ALIASES: dict[str, str] = {"QD": "QĐ", "QDi": "QĐi", "DA": "ĐA"}

STATE_LABELS: dict[str, str] = {
    "draft": "Dự thảo",
    "in_review": "Đang xin ý kiến duyệt",
    "awaiting_signature": "Chờ ký",
    "awaiting_issue": "Chờ ban hành",
    "approved": "Đã duyệt",
    "signed": "Đã ký số",
    "returned": "Trả lại để chỉnh sửa",
    "rejected": "Bị từ chối",
    "issued": "Đã ban hành",
    "recalled": "Đã thu hồi",
    "awaiting_assignment": "Chờ phân công xử lý",
    "in_handling": "Đang xử lý",
    "handled": "Đã xử lý",
}

URGENCY_LABELS: dict[str, str] = {
    "khan": "Khẩn",
    "thuong_khan": "Thượng khẩn",
    "hoa_toc": "Hỏa tốc",
}
"""Độ khẩn of a document (an ordinary document has none)."""

NORMAL_URGENCY = "thuong"
"""The code a route condition uses for ordinary (not urgent) documents."""

ROUTE_URGENCY_LABELS: dict[str, str] = {NORMAL_URGENCY: "Thường", **URGENCY_LABELS}
"""Độ khẩn in a route stage's conditions: ordinary documents too."""

CLASSIFICATION_LABELS: dict[str, str] = {
    "mat": "Mật",
    "toi_mat": "Tối mật",
    "tuyet_mat": "Tuyệt mật",
}
"""Độ mật: classified documents are registered as metadata only."""

FORM_LABELS: dict[str, str] = {"electronic": "Điện tử", "paper": "Giấy"}
"""Hình thức of a register entry, a document or a work file."""

SERIES_LABELS: dict[str, str] = {"outgoing": "Thường", "outgoing_classified": "Mật"}
"""The outgoing series (hệ thống số) of an issuer: ordinary, and the classified one."""

ACTION_LABELS: dict[str, str] = {
    "review": "Kiểm tra thể thức",
    "approve": "Duyệt",
    "consult": "Cho ý kiến",
    "sign": "Ký số",
    "issue": "Ban hành",
    "receive": "Tiếp nhận văn bản đến",
    "assign": "Phân công xử lý",
    "handle": "Xử lý văn bản đến",
}

STAGE_ACTION_LABELS: dict[str, str] = {
    "review": "Kiểm tra",
    "approve": "Duyệt",
    "consult": "Lấy ý kiến",
    "sign": "Ký số",
    "issue": "Ban hành",
}
"""The action of a stage, as the pages that define routes name it."""

ROUTE_KIND_LABELS: dict[str, str] = {
    "outgoing": "Văn bản đi",
    "report": "Báo cáo",
    "incoming": "Văn bản đến",
}
"""What a route carries."""

UNIT_KIND_LABELS: dict[str, str] = {
    "committee": "Đảng ủy",
    "standing": "Thường trực",
    "office": "Văn phòng",
    "board": "Ban",
    "grassroots": "Tổ chức cơ sở đảng",
}
"""Kinds of unit (``storage.models.UnitKind``)."""

ENTRY_STATE_LABELS: dict[str, str] = {
    "pending": "Chờ tiếp nhận",
    "received": "Đã tiếp nhận",
    "returned": "Đã trả lại nơi gửi",
}
"""States of an entry in an incoming register."""

TASK_OUTCOME_LABELS: dict[str, str] = {
    "approved": "đã duyệt",
    "reviewed": "đã kiểm tra thể thức",
    "signed": "đã ký",
    "issued": "đã ban hành",
    "returned": "đã trả lại",
    "rejected": "đã từ chối",
    "dong_y": "đồng ý",
    "khong_dong_y": "không đồng ý",
    "y_kien_khac": "ý kiến khác",
}
"""What a person did with a task (``reviewed``: an approved format check), in a sentence."""

TASK_STATE_LABELS: dict[str, str] = {
    "open": "đang chờ xử lý",
    "cancelled": "không cần xử lý",
}
"""A task not done: still waiting, or no longer needed."""

STAGE_STATUS_LABELS: dict[str, str] = {
    "done": "đã xong",
    "current": "đang xử lý",
    "next": "chưa đến",
    "returned": "đã trả lại",
    "rejected": "đã từ chối",
}
"""Where a document stands at a stage of its route."""

REVISION_KIND_LABELS: dict[str, str] = {
    "upload": "Bản tải lên",
    "signed": "Bản đã ký",
    "ocr": "Bản quét đã nhận dạng chữ (OCR)",
    "archival": "Gia hạn dấu thời gian lưu trữ",
}
"""Kinds of revision of a document's PDF."""

SIGNATURE_COVERAGE_LABELS: dict[str, str] = {
    "entire_file": "toàn bộ tệp",
    "entire_revision": "toàn bộ phiên bản đã ký",
    "partial": "một phần",
}
"""What part of the file a signature covers."""

MODIFICATION_LABELS: dict[str, str] = {
    "none": "không có",
    "lta_updates": "chỉ cập nhật dữ liệu kiểm tra dài hạn",
    "form_filling": "điền biểu mẫu/chữ ký tiếp theo",
    "annotations": "chú thích",
    "other": "thay đổi khác",
}
"""Changes made to the file after a signature."""

ROLE_LABELS: dict[str, str] = {
    "drafter": "Chuyên viên soạn thảo",
    "approver": "Lãnh đạo duyệt",
    "signer": "Người ký",
    "clerk": "Văn thư",
    "auditor": "Kiểm tra, giám sát",
    "admin": "Quản trị hệ thống",
}

AUDIT_LABELS: dict[str, str] = {
    "auth:login": "Đăng nhập",
    "auth:login_failed": "Đăng nhập không thành công",
    "auth:logout": "Đăng xuất",
    "auth:token_issued": "Cấp mã truy cập API",
    "auth:token_revoked": "Thu hồi mã truy cập API",
    "document:uploaded": "Tải lên văn bản",
    "document:ocr_applied": "Nhận dạng chữ (OCR) bản quét",
    "document:submitted": "Trình văn bản",
    "document:viewed": "Xem văn bản",
    "document:downloaded": "Tải xuống văn bản",
    "document:step:approved": "Duyệt",
    "document:step:returned": "Trả lại",
    "document:step:rejected": "Từ chối",
    "document:signed": "Ký số",
    "document:sign_failed": "Ký số không thành công",
    "document:validated": "Kiểm tra chữ ký",
    "document:revised": "Tải lên bản chỉnh sửa",
    "document:withdrawn": "Rút văn bản",
    "document:delegated": "Ủy quyền",
    "document:reassigned": "Giao lại việc",
    "document:commented": "Ý kiến",
    "document:issued": "Ban hành",
    "document:registered": "Đăng ký văn bản",
    "document:dispatched": "Phát hành",
    "document:received": "Tiếp nhận",
    "document:returned_to_sender": "Trả lại nơi gửi",
    "document:recalled": "Thu hồi",
    "document:paper_registered": "Vào sổ văn bản ký tay (bản giấy)",
    "document:paper_dispatched": "Gửi văn bản bằng bản giấy",
    "incoming:paper_registered": "Vào sổ văn bản đến bằng bản giấy",
    "report:paper_delivered": "Báo cáo nộp bằng bản giấy",
    "route:saved": "Lưu tuyến trình",
    "user:created": "Tạo người dùng",
    "user:signature_image": "Cập nhật ảnh chữ ký",
    "certificate:issued": "Cấp chứng thư số",
    "certificate:revoked": "Thu hồi chứng thư số",
    "certificate:key_locked": "Tạm khóa khóa ký (nhập sai mật khẩu nhiều lần)",
    "system:initialised": "Khởi tạo hệ thống",
    "admin:access_denied": "Bị từ chối truy cập trang quản trị",
    "trust:added": "Thêm chứng thư vào danh sách tin cậy",
    "trust:removed": "Gỡ chứng thư khỏi danh sách tin cậy",
    "webhook:created": "Đăng ký điểm nhận webhook",
    "document:archival_renewed": "Gia hạn dấu thời gian lưu trữ (B-LTA)",
    "document:archival_failed": "Không gia hạn được dấu thời gian lưu trữ",
    "document:published": "Công khai văn bản trên cổng thông tin",
    "document:unpublished": "Gỡ văn bản khỏi cổng thông tin",
    "webhook:deactivated": "Tắt điểm nhận webhook",
    "webhook:redelivered": "Gửi lại sự kiện webhook",
    "unit:created": "Tạo đơn vị",
    "unit:renamed": "Đổi tên đơn vị",
    "unit:moved": "Chuyển đơn vị sang cấp trên khác",
    "unit:deactivated": "Ngừng hoạt động đơn vị",
    "unit:reactivated": "Cho đơn vị hoạt động trở lại",
    "user:updated": "Sửa thông tin người dùng",
    "user:role_granted": "Cấp vai trò cho người dùng",
    "user:role_revoked": "Thu hồi vai trò của người dùng",
    "user:locked": "Khóa tài khoản người dùng",
    "user:unlocked": "Mở khóa tài khoản người dùng",
    "user:password_reset": "Đặt lại mật khẩu người dùng",
    "ledger:state_changed": "Sổ chỉ tiêu: thay đổi trạng thái",
    "ledger:head": "Sổ chỉ tiêu: ghi mã băm toàn sổ (để đóng dấu thời gian)",
    "ledger:exemption_recorded": "Sổ chỉ tiêu: ghi nhận miễn trừ",
    "ledger:report_signed": "Ký báo cáo chỉ tiêu",
    "storage:temporary_removed": "Xóa tệp tạm bị bỏ dở",
    "storage:blob_removed": "Xóa tệp không còn được tham chiếu",
    "ledger:refreshed": "Sổ chỉ tiêu: tính lại toàn bộ",
    "reminder:sent": "Gửi nhắc việc (đôn đốc)",
    "mail:fetched": "Đọc thư điện tử đến từ hộp thư cơ quan",
    "mail:received": "Tiếp nhận văn bản gửi qua thư điện tử",
    "mail:returned": "Trả lại thư điện tử cho người gửi",
    "mail:discarded": "Loại bỏ thư điện tử (thư rác)",
    "notice:emailed": "Gửi thư thông báo",
    "notice:digest": "Gửi thư tổng hợp thông báo",
    "notice:preferences": "Đổi cách nhận thư thông báo",
    "report:obligations_generated": "Tạo kỳ báo cáo",
    "report:submitted": "Nộp báo cáo",
    "report:sent": "Gửi báo cáo lên cấp trên",
    "report:received": "Cấp trên tiếp nhận báo cáo",
    "report:returned": "Cấp trên trả lại báo cáo",
    "incoming:receipt_refused": "Từ chối tiếp nhận văn bản đã thu hồi",
    "workfile:created": "Lập hồ sơ công việc",
    "workfile:attached": "Đưa vào hồ sơ công việc",
    "workfile:closed": "Đóng hồ sơ công việc",
    "bundle:exported": "Xuất gói kiểm toán",
    "incoming:opened": "Trình lãnh đạo phân công văn bản đến",
    "incoming:assigned": "Phân công xử lý văn bản đến",
    "incoming:handled": "Đã xử lý văn bản đến",
    "user:setup_link_issued": "Cấp đường dẫn đặt mật khẩu (dùng một lần)",
    "user:password_set": "Đặt mật khẩu qua đường dẫn dùng một lần",
    "user:setup_link_sent": "Gửi đường dẫn đặt mật khẩu qua thư điện tử",
    "organisation:imported": "Nhập tổ chức (đơn vị, người dùng, vai trò) từ tệp",
    "organisation:import_checked": "Kiểm tra tệp nhập tổ chức (không ghi dữ liệu)",
    "system:data_created": "Tạo dữ liệu hệ thống (tuyến trình, chứng thư số con dấu)",
    "system:backup": "Sao lưu hệ thống",
    "system:restored": "Khôi phục hệ thống từ bản sao lưu",
    "log:witness_added": "Sổ nhật ký minh bạch: thêm bên chứng kiến",
    "log:witness_removed": "Sổ nhật ký minh bạch: ngừng gửi cho bên chứng kiến",
}


def normalise_doc_type(value: str) -> str | None:
    """:returns: the canonical code of a document type, or ``None`` if unknown."""
    value = value.strip()
    if value in DOC_TYPES:
        return value
    return DOC_TYPE_ALIASES.get(value)


def to_vn(moment: datetime | None) -> datetime | None:
    """:returns: ``moment`` in Vietnam time (UTC+07:00)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(VN_TZ)


def vn_iso(moment: datetime | None) -> str | None:
    """:returns: ISO 8601 in Vietnam time, seconds precision (``...+07:00``)."""
    local = to_vn(moment)
    return None if local is None else local.replace(microsecond=0).isoformat()


def vn_display(moment: datetime | None) -> str:
    """:returns: ``dd/mm/yyyy HH:MM`` in Vietnam time, for pages."""
    local = to_vn(moment)
    return "" if local is None else local.strftime("%d/%m/%Y %H:%M")


IN_REVIEW_LABELS: dict[str, str] = {
    "review": "Đang kiểm tra thể thức",
    "consult": "Đang xin ý kiến",
}
"""The state "in review" named after the action of the stage the document stands at."""


# --- Vietnamese search and order -------------------------------------------------------

_ALPHABET = "aăâbcdđeêghiklmnoôơpqrstuưvxy"
"""The Vietnamese alphabet in its order (f, j, w, z of loan words sort after it)."""
_LETTERS = {
    "a\u0306": "ă",
    "a\u0302": "â",
    "e\u0302": "ê",
    "o\u0302": "ô",
    "o\u031b": "ơ",
    "u\u031b": "ư",
}
"""Letters written with a mark of their own (breve, circumflex, horn), decomposed."""
_TONES = {"\u0301": 1, "\u0300": 2, "\u0309": 3, "\u0303": 4, "\u0323": 5}
"""Tone marks, ranked as a Vietnamese dictionary orders them: none, sắc, huyền, hỏi,
ngã, nặng."""


def fold(text: str | None) -> str:
    """:returns: ``text`` without case and diacritics (``đ`` as ``d``), for search:
    ``fold("Trần Văn Phương") == fold("tran van phuong")``."""
    decomposed = unicodedata.normalize("NFD", (text or "").casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.replace("đ", "d").split())


def vn_sort_key(text: str | None) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """A sort key that orders Vietnamese the way its dictionaries do: letter by letter in
    the Vietnamese alphabet (a < ă < â < b ... d < đ < e < ê ...), the tones deciding only
    between words that are otherwise equal (none < sắc < huyền < hỏi < ngã < nặng). A
    documented key rather than ICU collation, which would need PyICU and libicu.

    :returns: ``(letters, tones)``.
    """
    letters: list[int] = []
    tones: list[int] = []
    for char in unicodedata.normalize("NFC", (text or "").casefold()):
        parts = unicodedata.normalize("NFD", char)
        base, marks = parts[0], parts[1:]
        tone = next((_TONES[m] for m in marks if m in _TONES), 0)
        letter = next((_LETTERS[base + m] for m in marks if base + m in _LETTERS), base)
        rank = _ALPHABET.find(letter)
        if rank >= 0:
            letters.append(1000 + rank)
        elif letter.isalpha():  # f, j, w, z and other scripts: after the alphabet
            letters.append(2000 + ord(letter))
        else:  # spaces, digits, punctuation: before the letters
            letters.append(ord(letter))
        tones.append(tone)
    return tuple(letters), tuple(tones)


OBJECT_LABELS: dict[str, str] = {
    "document": "Văn bản",
    "incoming": "Văn bản đến",
    "user": "Người dùng",
    "unit": "Đơn vị",
    "route": "Tuyến trình",
    "certificate": "Chứng thư số",
    "delegation": "Ủy quyền",
    "workfile": "Hồ sơ công việc",
    "report_obligation": "Báo cáo định kỳ",
    "report_period": "Kỳ báo cáo",
    "ledger": "Sổ chỉ tiêu",
    "ledger_entry": "Mục sổ chỉ tiêu",
    "ledger_report": "Báo cáo chỉ tiêu",
    "bundle": "Gói kiểm toán",
    "system": "Hệ thống",
    "admin": "Quản trị",
}
"""What an audit entry is about, as the audit log names it."""


CONVERSION_LABELS: dict[str, str] = {
    "repaired": "Tệp tải lên bị hỏng cấu trúc; máy chủ đã sửa tự động (qpdf). Bản được "
    "duyệt và ký là bản đã sửa; tệp gốc được lưu kèm.",
    "decrypted": "Tệp tải lên được mã hóa với mật khẩu rỗng; máy chủ đã gỡ mã hóa thành "
    "bản sạch để ký. Tệp gốc được lưu kèm.",
}
"""What was done to an uploaded file before it became a revision."""


CERT_NAME_LABELS: dict[str, str] = {
    "title": "Chức danh",
    "2.5.4.12": "Chức danh",
    "OU": "Đơn vị",
    "O": "Tổ chức",
    "L": "Quận/huyện",
    "ST": "Tỉnh/thành phố",
    "C": "Quốc gia",
    "STREET": "Địa chỉ",
    "DC": "Miền",
    "UID": "Mã định danh",
    "0.9.2342.19200300.100.1.1": "Mã định danh",
    "2.5.4.5": "Số hiệu",
    "serialNumber": "Số hiệu",
    "2.5.4.97": "Mã định danh tổ chức",
    "2.5.4.4": "Họ",
    "2.5.4.42": "Tên",
    "1.2.840.113549.1.9.1": "Thư điện tử",
    "emailAddress": "Thư điện tử",
}
"""Attributes of a certificate's name (RFC 4514 short name or dotted OID), as shown."""

CERT_ID_LABELS: dict[str, str] = {
    "CMND": "Số CMND",
    "CCCD": "Số CCCD",
    "MST": "Mã số thuế",
    "HC": "Số hộ chiếu",
    "BHXH": "Mã số BHXH",
}
"""Prefixes Vietnamese CAs put in the UID or serialNumber value (``CCCD:0010...``)."""


def _rfc4514_split(text: str, sep: str) -> list[str]:
    parts, current, escaped = [], "", False
    for ch in text:
        if escaped:
            current += ch
            escaped = False
        elif ch == "\\":
            current += ch
            escaped = True
        elif ch in sep:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return parts


def certificate_name_parts(name: str | None) -> list[tuple[str, str]] | None:
    """A certificate name (RFC 4514, as stored) as ``(label, value)`` pairs: the common
    name first with an empty label, then the others most specific first (RFC 4514 order:
    title, unit, organisation, country) with their Vietnamese labels (an unknown OID keeps its number); a ``CCCD:``/``MST:``...
    prefix of an identifier becomes its label.

    :returns: the pairs, or None when ``name`` is not an RFC 4514 name.
    """
    if not name or "=" not in name:
        return None
    common: list[tuple[str, str]] = []
    others: list[tuple[str, str]] = []
    for part in _rfc4514_split(name, ",+"):
        key, sep, raw = part.partition("=")
        if not sep:
            return None
        key = key.strip()
        value = re.sub(r"\\(.)", r"\1", raw.strip())
        if key in ("CN", "2.5.4.3"):
            common.append(("", value))
            continue
        label = CERT_NAME_LABELS.get(key, key)
        prefix, colon, rest = value.partition(":")
        if colon and prefix.strip().upper() in CERT_ID_LABELS:
            label, value = CERT_ID_LABELS[prefix.strip().upper()], rest.strip()
        others.append((label, value))
    return common + others
