"""Templates: variables found, filled, unknown ones kept and reported, never an exception."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaigns.rendering import (
    KNOWN_VARIABLES,
    contact_variables,
    contact_variables_from_row,
    render,
    unknown_variables,
    variables_in,
)
from campaigns.text import nfc


@pytest.mark.parametrize(
    ("template", "names"),
    [
        ("Chào {name}", {"name"}),
        ("{name} ở {district}, {ward}", {"name", "district", "ward"}),
        ("Không có biến", set()),
        ("{{name}} là chữ", set()),
        ("Điều {1} và { name } và {tên}", set()),
        ("{a_1}{B2}", {"a_1", "B2"}),
    ],
)
def test_variables_in(template: str, names: set[str]) -> None:
    """Only {identifier} is a variable; escaped, spaced, numeric and accented braces are text."""
    assert variables_in(template) == names


@pytest.mark.parametrize(
    ("template", "values", "expected"),
    [
        ("Chào {name}!", {"name": "Lan"}, "Chào Lan!"),
        ("Chào {name}!", {"name": None}, "Chào !"),
        ("Chào {name} {foo}", {"name": "Lan"}, "Chào Lan {foo}"),
        ("{{name}} = {name}", {"name": "Lan"}, "{name} = Lan"),
        ("{", {}, "{"),
        ("}", {}, "}"),
        ("{name", {"name": "x"}, "{name"),
        ("Ho\u0302\u0300", {}, "Hồ"),  # output is NFC
    ],
)
def test_render(template: str, values: dict[str, str | None], expected: str) -> None:
    """Rendering fills known values, keeps unknown ones and never raises."""
    assert render(template, values) == expected


def test_unknown_variables() -> None:
    """Variables outside the known set are reported."""
    assert unknown_variables("Chào {name}, {ho_ten} ở {district}") == {"ho_ten"}
    assert unknown_variables("{x}", {"x"}) == set()


def test_contact_variables() -> None:
    """A contact gives every known variable, with its number masked."""
    contact = SimpleNamespace(
        phone="+84912345678",
        name="Lan",
        carrier="VinaPhone",
        district=SimpleNamespace(name="Kế Sách"),
        ward=None,
    )
    values = contact_variables(contact)
    assert set(values) == KNOWN_VARIABLES
    assert values["phone_masked"] == "+84 91x xxx 678"
    assert "345" not in values["phone_masked"]
    assert (values["district"], values["ward"], values["name"]) == ("Kế Sách", "", "Lan")
    assert contact_variables_from_row("+84912345678", "Lan", "Kế Sách", None, "VinaPhone") == values


@settings(deadline=None, max_examples=200)
@given(st.text(max_size=60), st.text(max_size=60))
def test_values_are_inserted_literally(name: str, district: str) -> None:
    """A value is never read as a template: "{district}" inside a name stays as written."""
    out = render("A{name}B{district}C", {"name": name, "district": district})
    assert out == nfc(f"A{name}B{district}C")


@settings(deadline=None, max_examples=200)
@given(st.text(max_size=80))
def test_render_never_raises_and_is_nfc(template: str) -> None:
    """Any template renders to NFC text without raising; every unknown variable it reports is one
    it found in the template."""
    out = render(template, {})
    assert out == nfc(out)
    assert variables_in(template) >= unknown_variables(template) - KNOWN_VARIABLES
