"""The ``<int:…>`` converter's regex admits exactly the ids the database can store."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.security import MAX_ID, digits_up_to


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=10**12), st.integers(min_value=1, max_value=10**12))
def test_digits_up_to_matches_exactly_the_numbers_below_the_limit(n: int, limit: int) -> None:
    """A number matches iff it is at most the limit."""
    assert bool(re.fullmatch(digits_up_to(limit), str(n))) == (n <= limit)


def test_bounds_of_the_id_regex() -> None:
    """The largest id matches; one more does not."""
    pattern = re.compile(digits_up_to(MAX_ID))
    assert pattern.fullmatch(str(MAX_ID)) and pattern.fullmatch("0")
    assert not pattern.fullmatch(str(MAX_ID + 1)) and not pattern.fullmatch("9" * 11)
