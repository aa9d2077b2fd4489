"""workflow: interface languages (blueprint): Vietnamese by default, English on request.

The message ids are the Vietnamese texts themselves, so Vietnamese needs no catalogue.
English lives in ``translations/en/LC_MESSAGES/*.po`` (a file per area); one ``.mo`` is compiled
into the instance folder when the app starts (never committed). The choice is kept in
the ``lang`` cookie, set by ``POST /lang`` (CSRF-protected like every form).

Texts produced in Python follow the page too: flash messages and errors through
``gettext`` (``_``) at request time (outside a request, e.g. the CLI and background jobs,
they stay Vietnamese); module-level constants and labels stay Vietnamese strings, marked
with :func:`N_` or named in ``babel.cfg``, and are translated where shown, by
:func:`translate` (the templates' ``tr`` filter), as are domain errors raised without
``_()``. The JSON API keeps its machine-readable codes (its ``detail`` is Vietnamese for a
client without the ``lang`` cookie). Dates are ``dd/mm/yyyy`` and times Vietnam time in
both languages (the ``when`` and ``vn_date`` filters take ISO 8601 strings too).
"""

from __future__ import annotations

import ast
import logging
import os
import tempfile
from collections.abc import Iterator
from datetime import datetime
from fnmatch import fnmatch
from pathlib import Path
from typing import IO, Any

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import (
    Blueprint,
    Flask,
    abort,
    has_request_context,
    redirect,
    request,
    url_for,
)
from flask_babel import Babel, get_locale, get_translations, gettext
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup
from werkzeug.wrappers import Response

from workflow import vocab
from workflow.services import get_services

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "translations"
DOMAIN = "messages"
DEFAULT_LANGUAGE = "vi"
LANGUAGES: dict[str, str] = {"vi": "Tiếng Việt", "en": "English"}
"""Interface languages, each named in its own language (for the switch)."""
COOKIE = "lang"
COOKIE_MAX_AGE = 365 * 24 * 3600

log = logging.getLogger("trinhky")
bp = Blueprint("i18n", __name__)


def select_language() -> str:
    """:returns: the request's interface language: the ``lang`` cookie, else Vietnamese
    (also outside a request: the CLI and background jobs speak Vietnamese)."""
    if not has_request_context():
        return DEFAULT_LANGUAGE
    chosen = request.cookies.get(COOKIE, "")
    return chosen if chosen in LANGUAGES else DEFAULT_LANGUAGE


def current_language() -> str:
    """:returns: the language of the page being rendered (``vi`` or ``en``)."""
    locale = get_locale()
    return locale.language if locale is not None else DEFAULT_LANGUAGE


def N_(text: str) -> str:  # noqa: N802 - the usual name of gettext_noop
    """Mark ``text`` for extraction without translating it now (a module-level constant
    kept in Vietnamese, for logs and the API); translate it when shown (:func:`translate`)."""
    return text


def translate(text: Any) -> Any:
    """:returns: ``text`` in the page's language when the catalogue has it, else unchanged.

    For texts whose value is only known at run time (labels from Python dicts, domain
    error messages): unlike Jinja's ``_()``, the result is plain text, escaped like any
    value, and never ``%``-formatted. Also the ``tr`` filter of the templates.
    """
    if not isinstance(text, str) or not text:
        return text
    return gettext(text)


def certificate_name(value: Any) -> Any:
    """A certificate name as people read it: "Lê Văn Đức (Chức danh: Bí thư; Số CCCD:
    0010...)" instead of ``2.5.4.12=...,UID=CCCD:...,CN=...`` (the ``cert_name`` filter).
    The labels are in the page's language; the values, read from the certificate, are
    marked ``translate="no"`` (names, not text). Anything that is not an RFC 4514 name is
    returned unchanged."""
    parts = vocab.certificate_name_parts(value) if isinstance(value, str) else None
    if not parts:
        return value
    data = Markup('<span translate="no">{}</span>').format
    head = Markup(", ").join(data(v) for label, v in parts if not label)
    rest = Markup("; ").join(
        Markup("{}: {}").format(translate(label), data(v)) for label, v in parts if label
    )
    if head and rest:
        return Markup("{} ({})").format(head, rest)
    return head or rest


def _moment(value: datetime | str | None) -> datetime | None:
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return value


def display_time(value: datetime | str | None) -> str:
    """:returns: ``dd/mm/yyyy HH:MM`` in Vietnam time, in both languages (the ``when``
    filter: takes a datetime or an ISO 8601 string, as in the verification reports)."""
    moment = _moment(value)
    if moment is None:
        return value if isinstance(value, str) else ""
    return vocab.vn_display(moment)


def display_date(value: datetime | str | None) -> str:
    """:returns: ``dd/mm/yyyy`` in Vietnam time (the ``vn_date`` filter)."""
    moment = _moment(value)
    if moment is None:
        return value if isinstance(value, str) else ""
    return vocab.vn_display(moment)[:10]


def _safe_next(target: str | None) -> str | None:
    # Same-site paths only: never an open redirect.
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


@bp.route("/lang", methods=["POST"])
def set_language() -> Response:
    """Remember the chosen interface language, then go back to the page."""
    lang = request.form.get("lang", "")
    if lang not in LANGUAGES:
        abort(400)
    response = redirect(_safe_next(request.form.get("next")) or url_for("documents.home"))
    response.set_cookie(
        COOKIE,
        lang,
        max_age=COOKIE_MAX_AGE,
        path="/",
        secure=request.is_secure or get_services().settings.session_cookie_secure,
        httponly=True,
        samesite="Lax",
    )
    return response


def _switch_target() -> str:
    """:returns: where the language switch returns to: this page if it can be fetched again."""
    if request.method == "GET":
        return request.full_path.rstrip("?")
    return url_for("documents.home")


def compile_catalogues(source: Path, target: Path) -> list[str]:
    """Compile the ``*.po`` files of each ``<lang>/LC_MESSAGES/`` under ``source`` (one
    file per area of the interface) into one ``messages.mo`` in ``target``, when it is
    missing or older than any of them (written atomically: workers start together).

    :returns: the languages that have a catalogue.
    """
    languages = []
    for folder in sorted(p for p in source.glob("*/LC_MESSAGES") if any(p.glob("*.po"))):
        lang = folder.parent.name
        languages.append(lang)
        po_paths = sorted(folder.glob("*.po"))
        mo_path = target / lang / "LC_MESSAGES" / f"{DOMAIN}.mo"
        newest = max(p.stat().st_mtime for p in po_paths)
        if mo_path.exists() and mo_path.stat().st_mtime >= newest:
            continue
        catalog = read_catalogue(po_paths, lang)
        mo_path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=mo_path.parent, prefix=".messages-", suffix=".mo")
        try:
            with os.fdopen(fd, "wb") as mo_file:
                write_mo(mo_file, catalog, use_fuzzy=False)
            os.replace(tmp, mo_path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return languages


def read_catalogue(po_paths: list[Path], lang: str) -> Catalog:
    """:returns: the messages of all ``po_paths`` in one catalogue (a message translated in
    two files keeps the first file's translation, in name order)."""
    merged = Catalog(locale=lang, domain=DOMAIN)
    for po_path in po_paths:
        with po_path.open("rb") as po_file:
            for message in read_po(po_file, locale=lang, domain=DOMAIN):
                if message.id and merged.get(message.id, context=message.context) is None:
                    merged[message.id] = message
    return merged


def init_i18n(app: Flask) -> None:
    """Set up Flask-Babel (Vietnamese default), compile the catalogues, add ``/lang``."""
    compiled = Path(app.instance_path) / "translations"
    compile_catalogues(TRANSLATIONS, compiled)
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LANGUAGE)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "Asia/Ho_Chi_Minh")
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(compiled)
    Babel(app, locale_selector=select_language)
    app.register_blueprint(bp)
    app.jinja_env.filters.update(
        tr=translate, when=display_time, vn_date=display_date, cert_name=certificate_name
    )

    @app.context_processor
    def language_context() -> dict[str, Any]:
        return {
            "current_lang": current_language(),
            "LANGUAGES": LANGUAGES,
            "lang_switch_next": _switch_target,
        }

    @app.context_processor
    def page_catalogue() -> dict[str, Any]:
        # The catalogue of the page's language, looked up once per rendered page instead
        # of at each ``_()`` of the template (flask-babel finds the request's locale and
        # catalogue again at every call: a tenth of a page's time). Looked up when the
        # page is rendered, so a page rendered under ``force_locale`` (a notice in its
        # recipient's language) gets that language.
        catalogue = get_translations()
        return {
            "gettext": _template_gettext(catalogue.ugettext),
            "ngettext": _template_ngettext(catalogue.ungettext),
        }

    @app.after_request
    def content_language(response: Response) -> Response:
        if response.mimetype == "text/html":
            response.headers.setdefault("Content-Language", current_language())
        return response


def _template_gettext(lookup: Any) -> Any:
    """Jinja's "newstyle" ``gettext`` (autoescaped, always %-formatted) over ``lookup``,
    as ``install_gettext_callables(newstyle=True)`` makes it."""

    @pass_context
    def template_gettext(context: Context, string: str, **variables: Any) -> Any:
        text = lookup(string)
        if context.eval_ctx.autoescape:
            text = Markup(text)  # noqa: S704 - our catalogue; the variables are escaped
        return text % variables

    return template_gettext


def _template_ngettext(lookup: Any) -> Any:
    """Jinja's "newstyle" ``ngettext`` over ``lookup`` (see :func:`_template_gettext`)."""

    @pass_context
    def template_ngettext(
        context: Context, singular: str, plural: str, num: int, **variables: Any
    ) -> Any:
        variables.setdefault("num", num)
        text = lookup(singular, plural, num)
        if context.eval_ctx.autoescape:
            text = Markup(text)  # noqa: S704 - our catalogue (as Jinja does)
        return text % variables

    return template_ngettext


# --- extraction (pybabel extract -F babel.cfg) -------------------------------------


GETTEXT_NAMES = frozenset({"_", "gettext", "lazy_gettext", "_l", "N_"})


def extract_python_labels(
    fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: dict[str, str]
) -> Iterator[tuple[int, str | None, str, list[str]]]:
    """A Babel extractor for Vietnamese texts kept in Python: the string values of the
    module-level dicts named in the ``dicts`` option, the module-level string constants
    named in the ``constants`` option (glob patterns, e.g. ``MSG_*``), the label (first
    argument) of WTForms ``*Field(...)`` calls, and the first argument of ``_``/``gettext``/
    ``lazy_gettext``/``N_`` calls (flash messages and errors translated when shown).
    """
    dicts = set((options.get("dicts") or "").split())
    constants = (options.get("constants") or "").split()
    tree = ast.parse(fileobj.read().decode(options.get("encoding", "utf-8")))
    for statement in tree.body:  # module-level text constants named in ``constants`` (globs)
        if (
            constants
            and isinstance(statement, ast.Assign)
            and isinstance(statement.value, ast.Constant)
            and isinstance(statement.value.value, str)
            and any(
                isinstance(t, ast.Name) and any(fnmatch(t.id, c) for c in constants)
                for t in statement.targets
            )
        ):
            yield statement.value.lineno, None, statement.value.value, []
    for node in ast.walk(tree):
        if isinstance(node, ast.AnnAssign | ast.Assign) and isinstance(node.value, ast.Dict):
            targets = [node.target] if isinstance(node, ast.AnnAssign) else node.targets
            if not any(isinstance(t, ast.Name) and t.id in dicts for t in targets):
                continue
            for value in node.value.values:
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    yield value.lineno, None, value.value, []
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and (node.func.id.endswith("Field") or node.func.id in GETTEXT_NAMES)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node.args[0].lineno, None, node.args[0].value, []
