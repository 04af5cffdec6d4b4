"""Vietnamese first, English second: source strings are Vietnamese, ``translations/en`` English.

Catalogues are compiled from the ``.po`` files when the app starts, so a fresh clone needs no
build step and a missing catalogue still leaves a working (Vietnamese) UI.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from urllib.parse import urlencode

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, current_app, request, session
from flask_babel import Babel, format_date, format_datetime, format_decimal, get_locale, refresh

from campaigns import localtime

LOCALES = ("vi", "en")
TRANSLATIONS = Path(__file__).parent / "translations"


def compile_catalogues() -> None:
    """Compile every ``messages.po`` whose ``.mo`` is missing or older."""
    for po in TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as f:
            catalog = read_po(f)
        # A temporary file of this process's own, renamed into place: several processes
        # (gunicorn workers, test workers) may compile at the same moment.
        with tempfile.NamedTemporaryFile("wb", dir=mo.parent, suffix=".tmp", delete=False) as out:
            write_mo(out, catalog)
        Path(out.name).replace(mo)


def select_locale() -> str:
    """The UI language: ?lang=, then the session's choice, then the user's, then Vietnamese."""
    lang = request.args.get("lang")
    if lang in LOCALES:
        session["lang"] = lang
        return lang
    if session.get("lang") in LOCALES:
        return str(session["lang"])
    return str(current_app.config["LOA_SETTINGS"].default_locale)


def local_time(value: dt.datetime | None, fmt: str = "dd/MM/yyyy HH:mm") -> str:
    """A UTC time shown in Loa's time zone (Asia/Ho_Chi_Minh by default)."""
    if value is None:
        return ""
    zone = localtime.zone()
    return str(format_datetime(value.astimezone(zone).replace(tzinfo=None), fmt))


def number(value: object) -> str:
    """A count as the reader's language writes it: 300.000 in Vietnamese, 300,000 in English."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "" if value is None else str(value)  # a missing count shows as nothing
    return str(format_decimal(value))


def iso_date(value: str | None) -> str:
    """A date stored as ``YYYY-MM-DD`` shown as the reader's language writes it."""
    try:
        return str(format_date(dt.date.fromisoformat(value), "dd/MM/yyyy")) if value else ""
    except ValueError:
        return ""


def lang_url(code: str) -> str:
    """This page's address (path and query) with the UI language set to ``code``."""
    args = request.args.to_dict(flat=False)
    args["lang"] = [code]
    return request.path + "?" + urlencode(args, doseq=True)


def init_app(app: Flask) -> None:
    """Wire Flask-Babel with Loa's locale selector and time zone."""
    compile_catalogues()
    settings = app.config["LOA_SETTINGS"]
    app.config["BABEL_DEFAULT_LOCALE"] = settings.default_locale
    app.config["BABEL_DEFAULT_TIMEZONE"] = "UTC"  # values are converted in local_time()
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS)
    Babel(app, locale_selector=select_locale)
    app.jinja_env.filters["localtime"] = local_time
    app.jinja_env.filters["num"] = number
    app.jinja_env.filters["isodate"] = iso_date
    app.jinja_env.globals["get_locale"] = get_locale
    app.jinja_env.globals["lang_url"] = lang_url
    # Flask-Babel caches the locale on the app context, which can outlive one request.
    app.before_request(refresh)
