"""The password rule (OWASP ASVS 2.1): at least 12 characters, at most 128, and not guessable.

"Guessable" is zxcvbn's judgement (score below 3 of 4): it knows the common-password lists,
keyboard walks, dates and l33t spellings, and is told the words an attacker would try first
here (the user's own email and name, Loa, the province, "mật khẩu"). No rules about character
classes: a long phrase is better than a short mix.
"""

from __future__ import annotations

from collections.abc import Iterable

from zxcvbn import zxcvbn

from campaigns.text import fold

MIN_LENGTH = 12
MAX_LENGTH = 128
MIN_SCORE = 3  # zxcvbn: 3 = "safely unguessable: moderate protection from offline attacks"
LOCAL_WORDS = ("loa", "matkhau", "password", "soctrang", "cantho", "congan", "bienphong", "111")


def problem(password: str, personal: Iterable[str] = ()) -> str | None:
    """Why ``password`` may not be used (a code of ``PROBLEMS``), or None when it may."""
    if len(password) < MIN_LENGTH:
        return "too_short"
    if len(password) > MAX_LENGTH:
        return "too_long"
    words = [*LOCAL_WORDS]
    for item in personal:
        folded = fold(item)
        words += [folded, folded.partition("@")[0], "".join(folded.split())]
        words += [w for w in folded.replace("@", " ").replace(".", " ").split() if len(w) > 2]
    # zxcvbn reads the password as typed, and folded without spaces: "Mật khẩu 123456" is no
    # better than "matkhau123456".
    variants = {password, "".join(fold(password).split())}
    weakest = min(zxcvbn(p, user_inputs=words)["score"] for p in variants)
    return "guessable" if weakest < MIN_SCORE else None
