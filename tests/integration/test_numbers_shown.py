"""Figures read as the reader's language writes them: 1.234.567 in Vietnamese, 1,234,567 in
English (the ``num`` filter, gateway/i18n.py)."""

from __future__ import annotations

from typing import Any


def test_counts_are_written_as_the_reader_writes_numbers(app: Any) -> None:
    """The ``num`` filter: 1.234.567 in Vietnamese, 1,234,567 in English; nothing for none."""
    from flask_babel import force_locale

    num = app.jinja_env.filters["num"]
    with app.test_request_context():
        with force_locale("vi"):
            assert (num(1_234_567), num(0), num(None)) == ("1.234.567", "0", "")
        with force_locale("en"):
            assert num(1_234_567) == "1,234,567"


def test_large_figures_use_the_readers_separators(client: Any, login_as: Any, session: Any) -> None:
    """A list of 1,234 contacts reads 1.234 in Vietnamese and 1,234 in English."""
    from tests.factories import create_list

    create_list("Cả tỉnh", size=1234)
    login_as("editor")
    assert ">1.234<" in client.get("/lists").get_data(as_text=True)
    assert ">1,234<" in client.get("/lists?lang=en").get_data(as_text=True)
