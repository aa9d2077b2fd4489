"""Every state, step action and audit action the server can record has a label to show."""

from __future__ import annotations

import re
from pathlib import Path

from storage.audit import AuditAction
from workflow import vocab
from workflow.documents.states import DocState, StageAction

REPO = Path(__file__).resolve().parent.parent


def test_every_state_and_step_action_has_a_label() -> None:
    assert {s.value for s in DocState} <= set(vocab.STATE_LABELS)
    assert {a.value for a in StageAction} <= set(vocab.ACTION_LABELS)


def test_every_audit_action_has_a_label() -> None:
    written = {a.value for a in AuditAction}
    # Actions written as literals: audit.append(session, "area:verb", ...)
    pattern = re.compile(r'audit\.append\(\s*[^,]+,\s*"([a-z_]+:[a-z_:]+)"')
    for path in (REPO / "workflow").rglob("*.py"):
        written |= set(pattern.findall(path.read_text(encoding="utf-8")))
    assert written - set(vocab.AUDIT_LABELS) == set()


def test_fold_and_the_vietnamese_order() -> None:
    assert vocab.fold("Trần Văn Phương") == vocab.fold("tran van  PHUONG") == "tran van phuong"
    assert vocab.fold("Đỗ Quang Huy").startswith("do ")
    names = ["Đỗ Quang Huy", "Zô", "Dương", "Ân", "Ăn", "An", "Hòa", "Hóa", "Hoa", "Bình"]
    assert sorted(names, key=vocab.vn_sort_key) == [
        "An",
        "Ăn",
        "Ân",
        "Bình",
        "Dương",
        "Đỗ Quang Huy",
        "Hoa",
        "Hóa",
        "Hòa",
        "Zô",
    ]


def test_certificate_names_in_words() -> None:
    """Issue 14: the attributes of a certificate's name by their labels, never an OID; the
    identifier prefixes Vietnamese CAs use (CCCD:, MST:) become the label."""
    stored = (
        r"CN=Lê Văn Đức,2.5.4.12=Bí thư\, Đảng ủy Khối,OU=Thường trực,UID=CCCD:001234567890,"
        r"2.5.4.5=MST:0101234567,1.3.6.1.4.1.99=x,1.2.840.113549.1.9.1=duc@example.vn"
    )
    assert vocab.certificate_name_parts(stored) == [
        ("", "Lê Văn Đức"),
        ("Chức danh", "Bí thư, Đảng ủy Khối"),
        ("Đơn vị", "Thường trực"),
        ("Số CCCD", "001234567890"),
        ("Mã số thuế", "0101234567"),
        ("1.3.6.1.4.1.99", "x"),  # unknown: its number, the value kept
        ("Thư điện tử", "duc@example.vn"),
    ]
    assert vocab.certificate_name_parts("Common Name: Lê Văn Đức") is None
    assert vocab.certificate_name_parts(None) is None
