"""A form control parser for the accessibility checks: which controls have no label."""

from __future__ import annotations

from html.parser import HTMLParser


class Controls(HTMLParser):
    """Form controls and whether each has a label: inside a <label>, named by <label for>, or
    with aria-label, aria-labelledby or title."""

    def __init__(self) -> None:
        super().__init__()
        self.depth_label = 0
        self.fors: set[str] = set()
        self.controls: list[tuple[str, str | None, str | None, bool]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "label":
            self.depth_label += 1
            if a.get("for"):
                self.fors.add(str(a["for"]))
        if tag in ("input", "select", "textarea"):
            if tag == "input" and a.get("type") in ("hidden", "submit", "button", "image", "reset"):
                return
            labelled = (
                self.depth_label > 0 or "aria-label" in a or "aria-labelledby" in a or "title" in a
            )
            self.controls.append((tag, a.get("name"), a.get("id"), labelled))

    def handle_endtag(self, tag: str) -> None:
        if tag == "label" and self.depth_label:
            self.depth_label -= 1

    def unlabelled(self) -> list[tuple[str, str | None]]:
        return [(t, n) for t, n, i, ok in self.controls if not ok and not (i and i in self.fors)]
