"""Refresh the English catalogue: extract every string, keep existing translations, and add the
ones given in scripts/en.tsv (Vietnamese<TAB>English). Run with `make babel`."""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "gateway/translations/en/LC_MESSAGES/messages.po"


def main() -> int:
    table = {}
    for line in (ROOT / "scripts/en.tsv").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            vi, _, en = line.partition("\t")
            table[vi] = en
    with PO.open("rb") as f:
        catalog = read_po(f)
    missing = 0
    for msg in catalog:
        if not msg.id:
            continue
        key = msg.id if isinstance(msg.id, str) else msg.id[0]
        if key in table:
            msg.string = table[key] if isinstance(msg.id, str) else (table[key], table[key])
        elif not msg.string:
            missing += 1
    with PO.open("wb") as f:
        write_po(f, catalog, width=100)
    print(f"{len(table)} translations applied; {missing} strings still untranslated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
