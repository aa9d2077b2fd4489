"""workflow: the base of the API schemas: request and response models, their field
types, and a validation error as one Vietnamese message a clerk can act on."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Annotated, Any, ClassVar, TypeVar, get_args, get_origin

from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    Strict,
    ValidationError,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from workflow.errors import InvalidInputError
from workflow.vocab import VN_TZ, vn_iso


class Request(BaseModel):
    """A JSON request body or a query string. Unknown fields are ignored, as they always
    were; a field set to ``null`` counts as not given."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class Form(Request):
    """A ``multipart/form-data`` body: its text fields; the files are streamed to disk by
    :func:`workflow.uploads.stage_upload`, never through the model."""

    files: ClassVar[dict[str, str]] = {}
    """Each file field and its media type (documented, required)."""


class Response(BaseModel):
    """A response object. Every field must be declared (``extra="forbid"``), so a
    presenter that adds a key the document does not describe fails in the tests."""

    model_config = ConfigDict(extra="forbid")

    def dump(self) -> dict[str, Any]:
        """:returns: the JSON body (aliases applied; optional keys that were never set,
        such as a document's ``history`` outside ``GET /documents/{id}``, left out)."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


M = TypeVar("M", bound=BaseModel)

# --- field types ---------------------------------------------------------------------

MAX_ID = 2**31 - 1
"""The largest id (and integer field) a request may carry: the database's ``INTEGER``
(PostgreSQL's is 32-bit); a larger one can name nothing."""
MAX_LIST = 1000
"""The longest list a request may carry where no tighter bound is stated (recipients,
conditions): checked by the schema before any item is looked at."""
MAX_INT = 2**63 - 1
"""The largest integer anywhere in a JSON body (SQLite's and PostgreSQL's widest)."""

Int = Annotated[int, Strict(), Field(ge=-MAX_ID, le=MAX_ID)]
"""A JSON integer (not ``true``, not ``"3"``), within :data:`MAX_ID` either way."""
Bool = Annotated[bool, Strict()]
"""A JSON ``true``/``false``."""


_ASCII_DIGITS = re.compile(r"[0-9]{1,18}")


def _digits(value: Any) -> Any:
    # ASCII digits only: str.isdigit() is true of "١٢" or "²", which are no id.
    if isinstance(value, str) and _ASCII_DIGITS.fullmatch(value.strip()):
        return int(value)
    return value


IntLike = Annotated[int, Strict(), BeforeValidator(_digits), Field(ge=-MAX_ID, le=MAX_ID)]
"""An integer, also given as a string of ASCII digits (the endpoints that always took
both), within :data:`MAX_ID` either way."""


def _moment(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise PydanticCustomError(
            "iso_moment", "phải là thời điểm ISO 8601, ví dụ 2026-12-01T17:00:00+07:00"
        )
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise PydanticCustomError("iso_moment", "không phải thời điểm ISO 8601 hợp lệ") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=VN_TZ)


When = Annotated[
    datetime,
    BeforeValidator(_moment),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date-time",
            "description": "ISO 8601; without an offset, Vietnam time (UTC+07:00)",
            "examples": ["2026-12-01T17:00:00+07:00"],
        }
    ),
]
"""A moment given by the client: an ISO 8601 string, Vietnam time when it has no offset."""


def _vn_iso(moment: datetime) -> str | None:
    return vn_iso(moment)


Moment = Annotated[
    datetime,
    PlainSerializer(_vn_iso, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
"""A moment in a response: ISO 8601 in Vietnam time, seconds precision."""
Day = Annotated[date, WithJsonSchema({"type": "string", "format": "date"})]
"""A calendar day, ``YYYY-MM-DD``."""

# --- validation messages --------------------------------------------------------------

_MESSAGES = {
    "string_type": "'{f}' phải là chuỗi.",
    "int_type": "'{f}' phải là một số nguyên.",
    "int_parsing": "'{f}' phải là một số nguyên.",
    "int_from_float": "'{f}' phải là một số nguyên.",
    "bool_type": "'{f}' phải là true hoặc false.",
    "bool_parsing": "'{f}' phải là true hoặc false.",
    "list_type": "'{f}' phải là một danh sách.",
    "dict_type": "'{f}' phải là một đối tượng JSON.",
    "model_type": "'{f}' phải là một đối tượng JSON.",
    "model_attributes_type": "'{f}' phải là một đối tượng JSON.",
    "greater_than": "'{f}' phải lớn hơn {gt}.",
    "greater_than_equal": "'{f}' phải từ {ge} trở lên.",
    "less_than": "'{f}' phải nhỏ hơn {lt}.",
    "less_than_equal": "'{f}' phải không quá {le}.",
    "date_type": "'{f}' phải là ngày dạng YYYY-MM-DD.",
    "date_parsing": "'{f}' phải là ngày dạng YYYY-MM-DD.",
    "date_from_datetime_parsing": "'{f}' phải là ngày dạng YYYY-MM-DD.",
    "literal_error": "'{f}' phải là một trong: {expected}.",
    "enum": "'{f}' phải là một trong: {expected}.",
}


def _where(loc: tuple[int | str, ...]) -> str:
    where = ""
    for part in loc:
        where += f"[{part}]" if isinstance(part, int) else (f".{part}" if where else str(part))
    return where


def _label(model: type[BaseModel], name: str) -> str | None:
    """The Vietnamese ``title`` of the top-level field known to clients as ``name``."""
    for field_name, info in model.model_fields.items():
        names = {field_name, info.alias}
        if isinstance(info.validation_alias, AliasChoices):
            names.update(str(c) for c in info.validation_alias.choices)
        elif isinstance(info.validation_alias, str):
            names.add(info.validation_alias)
        if name in names:
            return info.title
    return None


def _one(model: type[BaseModel], error: Mapping[str, Any]) -> str:
    loc = tuple(error.get("loc") or ())
    where = _where(loc)
    kind = str(error["type"])
    ctx = dict(error.get("ctx") or {})
    if kind == "missing":
        label = _label(model, str(loc[0])) if len(loc) == 1 else None
        return f"Cần '{where}'" + (f": {label}." if label else ".")
    if kind == "too_short" and isinstance(error.get("input"), str) and ctx.get("min_length") == 1:
        label = _label(model, str(loc[0])) if len(loc) == 1 else None
        return f"Cần '{where}'" + (f": {label}." if label else ".")
    if kind in ("too_short", "too_long"):
        text = isinstance(error.get("input"), str)
        if kind == "too_short":
            return (
                f"'{where}' không được để trống."
                if text
                else f"'{where}' cần ít nhất {ctx.get('min_length')} phần tử."
            )
        return (
            f"'{where}' quá dài (tối đa {ctx.get('max_length')} {'ký tự' if text else 'phần tử'})."
        )
    if kind in _MESSAGES:
        if "expected" in ctx:
            ctx["expected"] = str(ctx["expected"]).replace(" or ", " hoặc ")
        return _MESSAGES[kind].format(f=where, **ctx)
    if isinstance(error.get("msg"), str) and kind not in ("value_error", "assertion_error"):
        # Our own validators raise PydanticCustomError with a Vietnamese message.
        return f"'{where}' {error['msg']}." if where else f"{error['msg']}."
    return f"'{where}' không hợp lệ." if where else "Nội dung yêu cầu không hợp lệ."


def validation_message(model: type[BaseModel], exc: ValidationError) -> str:
    """:returns: every problem of ``exc`` in Vietnamese, each naming its field."""
    parts: list[str] = []
    for error in exc.errors(include_url=False):
        text = _one(model, error)
        if text not in parts:
            parts.append(text)
    return " ".join(parts)


def parse(model: type[M], data: Any) -> M:
    """:returns: ``data`` validated as ``model``.

    :raises InvalidInputError: (422) naming each field at fault, in Vietnamese.
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidInputError(validation_message(model, exc)) from None


def parse_form(model: type[M], form: Any) -> M:
    """:returns: the text fields of a form (or query string) validated as ``model``; a
    field typed as a list takes every value of a repeated key."""
    data: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        key = info.alias or name
        if key not in form:
            continue
        data[key] = form.getlist(key) if _is_list(info.annotation) else form.get(key)
    return parse(model, data)


def _is_list(annotation: Any) -> bool:
    if get_origin(annotation) is list:
        return True
    return any(_is_list(arg) for arg in get_args(annotation))


# --- errors ----------------------------------------------------------------------------


class RefusedTask(Response):
    """A task a bulk job cannot take, and why."""

    task_id: int
    reason: str


class Problem(Response):
    """An error, RFC 9457 ``application/problem+json``; ``detail`` is Vietnamese and says
    what to do."""

    type: str = Field(description="about:blank")
    title: str
    status: int
    detail: str
    code: str | None = Field(
        default=None, description="a stable code, e.g. invalid_input, pdf_encrypted"
    )
    invalid: list[RefusedTask] | None = Field(
        default=None, description="POST /bulk-sign only: each refused task"
    )
