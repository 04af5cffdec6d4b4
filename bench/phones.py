"""Phone normalisation: Loa's fast path against plain ``phonenumbers`` on the same 100,000 numbers.

Prints the time per number of each and the ratio (higher = Loa faster). Importing 1.2 million
contacts normalises every number, so this ratio bounds the import's cost.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

import phonenumbers

from campaigns.phones import VN_MOBILE_CARRIERS, normalize


def baseline(raw: str) -> str | None:
    """What an import would do without Loa's fast path."""
    try:
        num = phonenumbers.parse(raw, "VN")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(num):
        return None
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)


def best_of(fn: Callable[[str], object], data: list[str], rounds: int = 3) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for raw in data:
            fn(raw)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    rng = random.Random(3007)
    prefixes = list(VN_MOBILE_CARRIERS)
    forms = (lambda n: n, lambda n: "+84" + n[1:], lambda n: "84" + n[1:], lambda n: "0084" + n[1:])
    numbers = [
        rng.choice(forms)("0" + rng.choice(prefixes) + f"{rng.randrange(10**7):07d}")
        for _ in range(100_000)
    ]
    loa = best_of(normalize, numbers)
    plain = best_of(baseline, numbers)
    print(f"numbers: {len(numbers):,} clean VN mobiles in mixed formats")
    print(f"phonenumbers: {plain / len(numbers) * 1e6:6.2f} µs/number (baseline)")
    print(f"loa:          {loa / len(numbers) * 1e6:6.2f} µs/number")
    print(f"ratio:        {plain / loa:6.1f}× faster than the baseline")


if __name__ == "__main__":
    main()
