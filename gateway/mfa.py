"""Two-factor sign-in: TOTP codes (RFC 6238, through pyotp) and one-time recovery codes.

Every role that can see tips must use it (``required``); others may. A TOTP code is good once:
the last time step accepted is kept, and only a later step passes. Recovery codes are random
(50 bits), shown once, and stored as SHA-256 like API tokens. Nothing here needs Flask.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time

import pyotp
import segno
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from campaigns.db import utcnow
from gateway.models import RecoveryCode, User
from gateway.roles import TIP_ROLES

ISSUER = "Loa"
RECOVERY_CODES = 10
STEP = 30  # seconds: what every authenticator app uses


def required(user: User) -> bool:
    """Whether ``user`` must sign in with a second factor: every role that can see tips."""
    return user.role in TIP_ROLES or user.totp_enabled_at is not None


def new_secret() -> str:
    """A fresh base32 secret (160 bits, as RFC 4226 recommends)."""
    return pyotp.random_base32(32)


def uri(user: User, secret: str) -> str:
    """The ``otpauth://`` URI an authenticator app reads (from a QR code or typed in)."""
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def qr_svg(data: str) -> str:
    """``data`` as a QR code: an SVG ``data:`` URI for an ``<img>`` (the CSP allows data: images,
    and no script is needed to draw it)."""
    svg = segno.make(data, error="m").svg_inline(scale=5, border=2)
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def provision(user: User) -> str:
    """Turn two-factor sign-in on for ``user`` with a new secret (an admin hands it over);
    returns the ``otpauth://`` URI."""
    user.totp_secret = new_secret()
    user.totp_enabled_at = utcnow()
    user.totp_last_step = None
    return uri(user, user.totp_secret)


def enable(user: User, secret: str, code: str, now: float | None = None) -> bool:
    """Turn two-factor sign-in on with ``secret`` if ``code`` proves the app holds it."""
    if _step_of(secret, code, None, now) is None:
        return False
    user.totp_secret = secret
    user.totp_enabled_at = utcnow()
    user.totp_last_step = _step_of(secret, code, None, now)
    return True


def verify(user: User, code: str, now: float | None = None) -> bool:
    """Whether ``code`` is ``user``'s current TOTP code and not used before (then remember it)."""
    if not user.totp_secret or user.totp_enabled_at is None:
        return False
    step = _step_of(user.totp_secret, code, user.totp_last_step, now)
    if step is None:
        return False
    user.totp_last_step = step
    return True


def _step_of(secret: str, code: str, after: int | None, now: float | None) -> int | None:
    """The time step (now, or one either side for clock drift) whose code is ``code``, if any
    is later than ``after``."""
    code = "".join(c for c in code if c.isdigit())
    if len(code) != 6:
        return None
    totp = pyotp.TOTP(secret)
    current = int((time.time() if now is None else now) // STEP)
    for step in (current - 1, current, current + 1):
        if (after is None or step > after) and secrets.compare_digest(totp.at(step * STEP), code):
            return step
    return None


def new_recovery_codes(s: Session, user: User) -> list[str]:
    """Replace ``user``'s recovery codes with fresh ones; returns them (shown once, never kept)."""
    s.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = [_recovery_code() for _ in range(RECOVERY_CODES)]
    s.add_all(RecoveryCode(user_id=user.id, code_hash=_hash(c)) for c in codes)
    return codes


def use_recovery_code(s: Session, user: User, code: str) -> bool:
    """Spend one of ``user``'s recovery codes; False when it is wrong or used."""
    row = s.scalar(
        select(RecoveryCode).where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == _hash(_normalise(code)),
            RecoveryCode.used_at.is_(None),
        )
    )
    if row is None:
        return False
    row.used_at = utcnow()
    return True


def recovery_codes_left(s: Session, user: User) -> int:
    rows = s.scalars(
        select(RecoveryCode.id).where(
            RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)
        )
    )
    return len(list(rows))


def reset(s: Session, user: User) -> None:
    """Forget ``user``'s second factor (lost phone): they enrol again at the next sign-in."""
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    s.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))


_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread


def _recovery_code() -> str:
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(10))
    return f"{raw[:5]}-{raw[5:]}"


def _normalise(code: str) -> str:
    raw = "".join(c for c in code.lower() if c.isalnum())
    return f"{raw[:5]}-{raw[5:]}"


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def looks_like_recovery_code(code: str) -> bool:
    return sum(c.isalpha() for c in code) > 0
