"""`import`: a generated CSV of Vietnamese contacts through Loa's real import path.

Loa: :func:`campaigns.importing.import_contacts` into a fresh database (SQLite, or the
PostgreSQL of ``LOA_DATABASE_URL``), in its own process so its peak RSS is its own.
Baseline, same run, same file: a bare loop that reads the CSV and only parses each phone with
``phonenumbers`` (parse, is_valid_number, format E.164). Target: ≥ 3× the baseline's rows/s,
peak RSS ≤ 300 MB. Size 1.0 = 1,200,000 rows.
"""

from __future__ import annotations

import csv
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import phonenumbers

from bench.support_bench1 import in_child, result
from bench.support_db_bench1 import fresh_database

FULL_ROWS = 1_200_000
SURNAMES = ("Nguyễn", "Trần", "Lê", "Phạm", "Huỳnh", "Võ", "Thạch", "Lâm", "Sơn", "Danh", "Lý")
MIDDLES = ("Văn", "Thị", "Ngọc", "Minh", "Thanh", "Hoàng", "Kim", "")
GIVENS = ("An", "Bình", "Chi", "Dũng", "Hà", "Hùng", "Lan", "Mai", "Nam", "Phúc", "Sóc", "Tâm")
DISTRICTS = ("Mỹ Xuyên", "Vĩnh Châu", "Trần Đề", "Long Phú", "Kế Sách", "Ngã Năm", "TP Sóc Trăng")
NEW_PREFIXES = ("86", "96", "97", "98", "32", "33", "37", "88", "91", "94", "83", "89", "90", "93")
OLD_PREFIXES = ("162", "163", "164", "165", "166", "167", "168", "169", "123", "124", "121")
JUNK = ("", "không có", "0123", "113", "+1 555 0100", "abc", "09x1234567", "0000000000")


def _number(rng: random.Random) -> str:
    """A mobile number in one of the forms people write (some pre-2018 11-digit ones)."""
    if rng.random() < 0.05:
        national = rng.choice(OLD_PREFIXES) + f"{rng.randrange(10**7):07d}"
    else:
        national = rng.choice(NEW_PREFIXES) + f"{rng.randrange(10**7):07d}"
    form = rng.randrange(6)
    if form == 0:
        return "0" + national
    if form == 1:
        return "+84" + national
    if form == 2:
        return "84" + national
    if form == 3:
        return f"0{national[:3]} {national[3:6]} {national[6:]}"
    if form == 4:
        return f"+84 {national[:2]} {national[2:5]} {national[5:]}"
    return f"0{national[:3]}.{national[3:6]}.{national[6:]}"


def write_csv(path: Path, rows: int, seed: int = 3007) -> None:
    """``rows`` contacts (phone, name, district, tags): 1 % junk, 2 % repeated numbers."""
    rng = random.Random(seed)
    written: list[str] = []
    with path.open("w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(["Số điện thoại", "Họ tên", "Huyện", "Nhãn"])
        for _ in range(rows):
            roll = rng.random()
            if roll < 0.01:
                phone = rng.choice(JUNK)
            elif roll < 0.03 and written:
                phone = rng.choice(written)
            else:
                phone = _number(rng)
                if len(written) < 100_000:
                    written.append(phone)
            name = " ".join(
                p for p in (rng.choice(SURNAMES), rng.choice(MIDDLES), rng.choice(GIVENS)) if p
            )
            out.writerow([phone, name, rng.choice(DISTRICTS), rng.choice(("", "ngư dân", "cb"))])


def loa_import(path: str, url: str) -> dict[str, Any]:
    """Import ``path`` into the fresh database ``url`` (runs in its own process)."""
    import gateway.models  # noqa: F401  (registers every table)
    from campaigns.db import make_engine, make_sessionmaker
    from campaigns.importing import import_contacts

    engine = make_engine(url)
    with make_sessionmaker(engine)() as s, open(path, "rb") as f:
        started = time.perf_counter()
        res = import_contacts(s, f, "bench", filename="contacts.csv")
        took = time.perf_counter() - started
    engine.dispose()
    return {"rows": res.rows, "added": res.added, "seconds": took, "rejected": res.rejected_count}


def bare_loop(path: str) -> dict[str, Any]:
    """The baseline: read each row and parse its phone with ``phonenumbers`` only."""
    started = time.perf_counter()
    rows = valid = 0
    e164 = phonenumbers.PhoneNumberFormat.E164
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        next(reader)
        for row in reader:
            rows += 1
            try:
                num = phonenumbers.parse(row[0], "VN")
            except phonenumbers.NumberParseException:
                continue
            if phonenumbers.is_valid_number(num):
                phonenumbers.format_number(num, e164)
                valid += 1
    return {"rows": rows, "valid": valid, "seconds": time.perf_counter() - started}


def run(size: float) -> list[dict[str, Any]]:
    n = max(100, int(FULL_ROWS * size))
    with tempfile.TemporaryDirectory(prefix="loa-bench-import-") as tmp:
        path = Path(tmp) / "contacts.csv"
        write_csv(path, n)
        base = bare_loop(str(path))
        with fresh_database(tmp) as url:
            loa, rss = in_child(loa_import, str(path), url)
    assert loa["rows"] == base["rows"] == n, (loa, base, n)
    loa_rate = loa["rows"] / loa["seconds"]
    base_rate = base["rows"] / base["seconds"]
    ratio = loa_rate / base_rate
    return [
        result(
            "import",
            loa_rate,
            "rows/s",
            "bare phonenumbers loop",
            base_rate,
            ratio,
            "≥ 3×, peak RSS ≤ 300 MB",
            ratio >= 3 and rss <= 300,
            peak_rss_mb=rss,
        )
    ]
