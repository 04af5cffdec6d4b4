"""The Content-Security-Policy allows no inline script or style, so no template may hold one."""

from __future__ import annotations

import re
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
INLINE = re.compile(
    r"<script(?![^>]*\ssrc=)[^>]*>|<style\b|\sstyle\s*=|\son[a-z]+\s*=|javascript:", re.I
)


def test_no_template_holds_inline_script_or_style() -> None:
    found = [
        f"{path.relative_to(TEMPLATES)}:{n}: {line.strip()}"
        for path in sorted(TEMPLATES.rglob("*.html"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if INLINE.search(line)
    ]
    assert found == []


def test_the_pattern_catches_what_the_policy_blocks() -> None:
    for bad in ("<script>x()</script>", '<p style="color:red">', "<style>", '<a onclick="x()">'):
        assert INLINE.search(bad), bad
    assert not INLINE.search('<script src="/static/inbox.js" defer></script>')
