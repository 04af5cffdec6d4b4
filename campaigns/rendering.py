"""Message templates: `{variable}` placeholders filled per contact.

A template is plain text with `{name}`-style placeholders (letters, digits and underscores).
Rendering never raises: an unknown variable is left in the text as written so an editor sees it
in a preview, and :func:`unknown_variables` / :func:`check_template` report it before sending.
`{{` and `}}` write literal braces. Anything else in braces (`{ x }`, `{1-2}`) is plain text:
officials quote article numbers in braces more often than they mean a variable.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Protocol

from campaigns.phones import mask
from campaigns.text import nfc

# {{ and }} escape braces; {identifier} is a variable; any other brace is literal text.
_TOKEN = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")

# Variables every contact offers; the composer treats anything else as unknown.
KNOWN_VARIABLES: frozenset[str] = frozenset({"name", "phone_masked", "district", "ward", "carrier"})


class ContactLike(Protocol):
    """What rendering needs from a contact (the `Contact` model satisfies it)."""

    phone: str
    name: str | None
    carrier: str | None

    @property
    def district(self) -> Any: ...

    @property
    def ward(self) -> Any: ...


def variables_in(template: str) -> set[str]:
    """The variable names a template uses.

    Args:
        template: the message template.

    Returns:
        The names written as `{name}` (escaped `{{name}}` is not a variable).
    """
    return {m.group(1) for m in _TOKEN.finditer(template) if m.group(1)}


def unknown_variables(
    template: str, known: frozenset[str] | set[str] = KNOWN_VARIABLES
) -> set[str]:
    """The variables of `template` that no contact can fill.

    Args:
        template: the message template.
        known: the names that can be filled (default: :data:`KNOWN_VARIABLES`).

    Returns:
        The unknown names, empty when the template is fine.
    """
    return variables_in(template) - set(known)


def render(template: str, variables: Mapping[str, str | None]) -> str:
    """Fill a template. Never raises.

    Args:
        template: the message template.
        variables: values by name; a value of None renders as an empty string.

    Returns:
        The NFC text; unknown variables stay as written (`{foo}`), `{{`/`}}` become `{`/`}`.
    """

    def fill(match: re.Match[str]) -> str:
        text = match.group(0)
        if text == "{{":
            return "{"
        if text == "}}":
            return "}"
        key = match.group(1)
        if key in variables:
            return variables[key] or ""
        return text

    return nfc(_TOKEN.sub(fill, template))


def _area_name(area: Any) -> str:
    name = getattr(area, "name", None)
    return name if isinstance(name, str) else ""


def contact_variables(contact: ContactLike) -> dict[str, str]:
    """The template variables of one contact.

    Args:
        contact: a `Contact` (or anything with phone, name, carrier, district, ward).

    Returns:
        A dict with every name of :data:`KNOWN_VARIABLES`; missing values are "".
    """
    return {
        "name": contact.name or "",
        "phone_masked": mask(contact.phone),
        "district": _area_name(contact.district),
        "ward": _area_name(contact.ward),
        "carrier": contact.carrier or "",
    }


def contact_variables_from_row(
    phone: str,
    name: str | None = None,
    district: str | None = None,
    ward: str | None = None,
    carrier: str | None = None,
) -> dict[str, str]:
    """The template variables from plain columns (for bulk rendering from a SQL row).

    Args:
        phone: the E.164 number.
        name: the contact's name, district and ward names and carrier; None renders as "".

    Returns:
        The same dict as :func:`contact_variables`.
    """
    return {
        "name": name or "",
        "phone_masked": mask(phone),
        "district": district or "",
        "ward": ward or "",
        "carrier": carrier or "",
    }


def sample_variables() -> dict[str, str]:
    """Example values for a preview before any contact is chosen."""
    return {
        "name": "Nguyễn Văn A",
        "phone_masked": "+84 91x xxx 678",
        "district": "Kế Sách",
        "ward": "Thị trấn Kế Sách",
        "carrier": "Viettel",
    }
