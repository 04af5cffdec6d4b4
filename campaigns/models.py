"""Tables of the broadcast domain: areas, contacts, lists, opt-outs, campaigns, deliveries.

Users live in ``gateway.models`` (the ``users`` table); the domain refers to them by key only.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from campaigns import count_triggers
from campaigns.db import Base, utcnow


class Area(Base):
    """A place (province, district, town, commune, ward), with old names kept as aliases."""

    __tablename__ = "areas"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # province, district, town, city, commune, ward
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"))
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)
    police_queue: Mapped[str | None] = mapped_column(String(64))
    coastal: Mapped[bool] = mapped_column(Boolean, default=False)


class Contact(Base):
    """One phone number that may receive broadcasts."""

    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(20), unique=True)  # E.164
    name: Mapped[str | None] = mapped_column(String(200))
    district_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"), index=True)
    ward_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"), index=True)
    carrier: Mapped[str | None] = mapped_column(String(40), index=True)
    # Tags are stored as ",tag1,tag2," so one LIKE '%,tag,%' finds them on SQLite and PostgreSQL.
    tags: Mapped[str] = mapped_column(Text, default="")
    invalid: Mapped[bool] = mapped_column(Boolean, default=False)  # the provider said so
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    district: Mapped[Area | None] = relationship(foreign_keys=[district_id])
    ward: Mapped[Area | None] = relationship(foreign_keys=[ward_id])


class ContactList(Base):
    """A named list of contacts, usually one imported file."""

    __tablename__ = "contact_lists"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ListMember(Base):
    """Membership of a contact in a list."""

    __tablename__ = "list_members"

    list_id: Mapped[int] = mapped_column(
        ForeignKey("contact_lists.id", ondelete="CASCADE"), primary_key=True
    )
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class ContactImport(Base):
    """What one contact import did, kept so any web copy can show it and serve its rejects.

    ``token`` (random, URL-safe) names the import in links; ``counts`` holds the import's
    counts (``ImportResult.as_dict`` without the inline rejected rows) and ``rejected_csv``
    every rejected row as CSV (line, value, reason) with its header.

    A large upload imports in a worker (``campaigns.import_records.store_upload``): the record
    is ``queued`` with the file in ``contact_import_parts``, then ``running`` with its progress
    in ``counts``, then ``done`` (the parts deleted) or ``failed`` with ``error``. An import
    run inside its request is ``done`` from the start.
    """

    __tablename__ = "contact_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    list_id: Mapped[int | None] = mapped_column(
        ForeignKey("contact_lists.id", ondelete="SET NULL"), index=True
    )
    filename: Mapped[str] = mapped_column(String(200), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    rejected_csv: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="done", server_default="done")
    list_name: Mapped[str] = mapped_column(String(200), default="", server_default="")
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    error: Mapped[str] = mapped_column(Text, default="", server_default="")
    finished_at: Mapped[dt.datetime | None] = mapped_column()


class ContactImportPart(Base):
    """One piece (up to 1 MiB) of an uploaded file waiting for its import in a worker.

    In SQL, not on the web host's disk, so a worker on any host can read it; deleted when the
    import ends.
    """

    __tablename__ = "contact_import_parts"

    import_id: Mapped[int] = mapped_column(
        ForeignKey("contact_imports.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class OptOut(Base):
    """A number that must receive no broadcast (the suppression list); opt-outs win."""

    __tablename__ = "opt_outs"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(20), unique=True)
    reason: Mapped[str] = mapped_column(String(200), default="")
    channel: Mapped[str] = mapped_column(String(20))  # sms, hotline, web, admin, provider
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class Campaign(Base):
    """One broadcast: its text, audience, schedule, limits and lifecycle state."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="draft", index=True)
    # {"lists": [names], "districts": [area ids], "wards": [area ids], "tags": [..]}; a
    # delegated campaign's: {"all": true} or districts/wards, plus "operators": [codes]
    audience: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # "direct": Loa sends; "operators": the mobile operators send (campaigns.delegation)
    route: Mapped[str] = mapped_column(String(12), default="direct", server_default="direct")
    # A delegated campaign's contact person and answer dates (campaigns.delegation)
    delegation: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, server_default="{}")
    senders: Mapped[list[str]] = mapped_column(JSON, default=list)  # a pool; empty = default
    provider: Mapped[str] = mapped_column(String(60), default="")  # "http,smpp": failover order
    rate_per_second: Mapped[float | None] = mapped_column(Float)  # segments/s per sender
    window_start: Mapped[str] = mapped_column(String(5), default="07:00")
    window_end: Mapped[str] = mapped_column(String(5), default="22:00")
    scheduled_at: Mapped[dt.datetime | None] = mapped_column()
    recurrence: Mapped[str] = mapped_column(String(10), default="none")  # none, yearly
    encoding: Mapped[str] = mapped_column(String(8), default="GSM-7")
    segments_per_message: Mapped[int] = mapped_column(Integer, default=1)
    audience_size: Mapped[int] = mapped_column(Integer, default=0)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approval_hash: Mapped[str | None] = mapped_column(String(64))
    approved_at: Mapped[dt.datetime | None] = mapped_column()
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    paused_reason: Mapped[str | None] = mapped_column(Text)
    error_streak: Mapped[int] = mapped_column(Integer, default=0)
    launched_at: Mapped[dt.datetime | None] = mapped_column()
    completed_at: Mapped[dt.datetime | None] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Delivery(Base):
    """One recipient of one campaign: at most one row per (campaign, phone) (invariant 1)."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("campaign_id", "phone"),
        # batch_no last: the claim and the batch planner read (campaign, status, batch) ranges.
        Index("ix_deliveries_campaign_status_batch", "campaign_id", "status", "batch_no"),
        Index("ix_deliveries_campaign_batch", "campaign_id", "batch_no"),
        # An inbound tip finds the campaign that last reached its sender (tips.links).
        Index("ix_deliveries_phone", "phone"),
        # SQLite's count of a fresh materialise reads its counters' key (but the error code,
        # none yet) from the index alone, in order: no pass over the rows, no sort.
        Index(
            "ix_deliveries_campaign_count_key",
            "campaign_id",
            "status",
            "skip_reason",
            "carrier",
            "district_id",
        ),
        # The reconciler looks for leases that ran out.
        Index("ix_deliveries_status_lease", "status", "lease_until"),
        Index("ix_deliveries_contact_id", "contact_id"),
        # The progress page's rate counts the last minute's sends of one campaign.
        Index("ix_deliveries_campaign_sent", "campaign_id", "sent_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    phone: Mapped[str] = mapped_column(String(20))
    # The contact's carrier and district when the campaign was launched (the reports' snapshot).
    # district_id is a plain id, not a foreign key: a snapshot must not change when an area is
    # deleted (the report shows it as unknown then), and the materialise pays no check per row.
    carrier: Mapped[str | None] = mapped_column(String(40))
    district_id: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    skip_reason: Mapped[str | None] = mapped_column(String(20))  # opted_out, invalid, duplicate
    batch_no: Mapped[int] = mapped_column(Integer, default=0)
    sender: Mapped[str | None] = mapped_column(String(40))
    provider_message_id: Mapped[str | None] = mapped_column(String(64), index=True)
    error_code: Mapped[str | None] = mapped_column(String(20))
    error_message: Mapped[str | None] = mapped_column(String(300))
    segments: Mapped[int] = mapped_column(Integer, default=1)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[dt.datetime | None] = mapped_column()
    # The last move to ``sending``: the reconciler asks the provider what it created since.
    claimed_at: Mapped[dt.datetime | None] = mapped_column()
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column()
    sent_at: Mapped[dt.datetime | None] = mapped_column()
    finished_at: Mapped[dt.datetime | None] = mapped_column()
    updated_at: Mapped[dt.datetime | None] = mapped_column()


class DeliveryCount(Base):
    """How many deliveries of a campaign have one (status, skip reason, error code, carrier,
    district), and their segments: kept by the database's own triggers
    (:mod:`campaigns.count_triggers`), read by the progress figures instead of a GROUP BY over
    every delivery. ``''`` (``0`` for the district) stands for NULL. A key may have several rows
    (see ``slot``): readers sum them."""

    __tablename__ = "delivery_counts"

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(String(12), primary_key=True)
    skip_reason: Mapped[str] = mapped_column(String(20), primary_key=True, default="")
    error_code: Mapped[str] = mapped_column(String(20), primary_key=True, default="")
    # The delivery's snapshot at launch (deliveries.carrier and district_id).
    carrier: Mapped[str] = mapped_column(String(40), primary_key=True, default="")
    district_id: Mapped[int] = mapped_column(Integer, primary_key=True, default=0)
    # The database connection that added to it (PostgreSQL's backend pid; 0 on SQLite and for a
    # recount): connections never share a counter row, so they never wait for each other.
    slot: Mapped[int] = mapped_column(primary_key=True, default=0, server_default="0")
    n: Mapped[int] = mapped_column(BigInteger, default=0)
    segments: Mapped[int] = mapped_column(BigInteger, default=0)


# The triggers come with the tables wherever the schema is built from the models (tests, the
# benchmarks); the migration installs the same ones.
event.listen(Base.metadata, "after_create", lambda _t, conn, **_kw: count_triggers.install(conn))


class KillSwitch(Base):
    """An emergency stop of every campaign; engaged while ``released_at`` is empty."""

    __tablename__ = "kill_switches"

    id: Mapped[int] = mapped_column(primary_key=True)
    reason: Mapped[str] = mapped_column(Text)
    engaged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    engaged_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    released_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    released_at: Mapped[dt.datetime | None] = mapped_column(index=True)


class MobileOperator(Base):
    """A mobile network operator that a delegated campaign can ask to send (data, editable)."""

    __tablename__ = "mobile_operators"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(60))
    addressee: Mapped[str] = mapped_column(String(300))  # "Kính gửi: …" on a letter
    position: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # How this operator's report spreadsheet maps to Loa's fields, remembered once set
    column_map: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class LetterTemplate(Base):
    """The department's wording of a request letter; one row per kind of letter."""

    __tablename__ = "letter_templates"

    kind: Mapped[str] = mapped_column(String(40), primary_key=True)
    issuer_parent: Mapped[str] = mapped_column(String(200))  # "UBND TỈNH SÓC TRĂNG"
    issuer: Mapped[str] = mapped_column(String(200))  # "SỞ THÔNG TIN VÀ TRUYỀN THÔNG"
    symbol: Mapped[str] = mapped_column(String(60))  # after the number: "STTTT-TTBCXB"
    place: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str] = mapped_column(Text)
    opening: Mapped[str] = mapped_column(Text)
    closing: Mapped[str] = mapped_column(Text)
    signer_title: Mapped[str] = mapped_column(String(200))
    signer_name: Mapped[str] = mapped_column(String(200))
    copies_to: Mapped[str] = mapped_column(Text, default="")  # "Nơi nhận", one per line
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class OperatorRequest(Base):
    """One operator asked to send one delegated campaign: its letter and its follow-up."""

    __tablename__ = "operator_requests"
    __table_args__ = (
        UniqueConstraint("campaign_id", "operator_id"),
        UniqueConstraint("letter_year", "letter_no"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), index=True
    )
    operator_id: Mapped[int] = mapped_column(ForeignKey("mobile_operators.id"))
    status: Mapped[str] = mapped_column(String(16), default="prepared")
    letter_year: Mapped[int] = mapped_column(Integer)
    letter_no: Mapped[int] = mapped_column(Integer)
    letter: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # the text of record
    letter_hash: Mapped[str] = mapped_column(String(64))
    letter_made_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    requested_at: Mapped[dt.datetime | None] = mapped_column()
    reached_total: Mapped[int | None] = mapped_column(BigInteger)
    reached_by_area: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # area id → n
    note: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    operator: Mapped[MobileOperator] = relationship(lazy="joined")


class OperatorRequestEvent(Base):
    """One step of an operator's follow-up: the state reached, when, by whom, with a note."""

    __tablename__ = "operator_request_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("operator_requests.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str] = mapped_column(Text, default="")
    reached_total: Mapped[int | None] = mapped_column(BigInteger)
