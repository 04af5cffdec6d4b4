"""docs/operations.md stays true to the code: every setting is documented, and the README
links to it."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_is_in_the_operations_guide(name: str) -> None:
    """Each ``LOA_*`` variable has a row of its own in the settings reference."""
    assert f"| `LOA_{name.upper()}` |" in DOC


def test_the_guide_names_no_setting_that_does_not_exist() -> None:
    """A renamed or removed setting cannot linger in the guide."""
    import re

    known = {f"LOA_{n.upper()}" for n in Settings.model_fields}
    named = set(re.findall(r"`(LOA_[A-Z0-9_]+)`", DOC))
    assert named - known == set()


def test_the_readme_links_the_guide() -> None:
    assert "(docs/operations.md)" in (ROOT / "README.md").read_text(encoding="utf-8")
