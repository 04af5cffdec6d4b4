"""Tables owned by the gateway: users, API tokens and the audit log.

Importing this module registers every table of Loa on ``Base.metadata`` (Alembic relies on it).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

import campaigns.models  # noqa: F401  (registers the domain's tables)
from campaigns.db import Base, utcnow


class User(Base):
    """A person who logs in to the admin; ``role`` and ``scope`` decide what they may see."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(200), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    scope: Mapped[str | None] = mapped_column(String(64))  # a queue, e.g. police_ke_sach
    phone: Mapped[str | None] = mapped_column(String(20))  # for on-duty alerts
    locale: Mapped[str | None] = mapped_column(String(5))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column()
    # Two-factor sign-in: the TOTP secret (base32), set at enrolment and live once confirmed;
    # the last time step accepted, so a code is good once.
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled_at: Mapped[dt.datetime | None] = mapped_column()
    totp_last_step: Mapped[int | None] = mapped_column()

    # Flask-Login's protocol, written out so the domain of users stays free of mixins.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)


class ApiToken(Base):
    """A bearer token for /api/v1; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column()
    revoked_at: Mapped[dt.datetime | None] = mapped_column()
    expires_at: Mapped[dt.datetime | None] = mapped_column()  # None: until revoked


class RecoveryCode(Base):
    """A one-time code that signs in in place of a TOTP code; only its SHA-256 is stored."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    used_at: Mapped[dt.datetime | None] = mapped_column()


class UserSession(Base):
    """A signed-in browser. The cookie holds a random token; only its SHA-256 is stored, and
    deleting the row (logout, password reset, deactivation, "sign out everywhere") ends it."""

    __tablename__ = "user_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the token
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class AuditEvent(Base):
    """One append-only audit record. ``details`` never holds a tip body or a full number."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_object", "object_type", "object_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    action: Mapped[str] = mapped_column(String(40), index=True)
    object_type: Mapped[str | None] = mapped_column(String(40))
    object_id: Mapped[str | None] = mapped_column(String(40))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    ip: Mapped[str | None] = mapped_column(String(45))


def _register_tip_tables() -> None:
    import gateway.tips.models  # noqa: F401


_register_tip_tables()


def _register_provider_tables() -> None:
    import gateway.providers.smpp_models  # noqa: F401  (submitted parts, inbound PDUs)


_register_provider_tables()
