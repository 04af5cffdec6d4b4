"""What the SMPP link keeps in SQL: the parts it submitted and the PDUs citizens sent.

``smpp_parts`` maps each ``submit_sm``'s message id to Loa's delivery and the part's number, so
a receipt for any part finds its delivery and all parts roll up into one status.
``smpp_inbound`` holds every inbound short message as received (raw bytes kept, hex), committed
before its ``deliver_sm_resp``: the parts of a long tip wait here until the message is whole.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from campaigns.db import Base, utcnow


class SmppPart(Base):
    """One submitted part of an outbound message and the last receipt status it got."""

    __tablename__ = "smpp_parts"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The SMSC's id; not unique: an SMSC may reuse ids after a while (the newest row wins).
    message_id: Mapped[str] = mapped_column(String(65), index=True)
    delivery_id: Mapped[int | None] = mapped_column(Integer, index=True)
    first_message_id: Mapped[str] = mapped_column(String(65), index=True)  # the message's id
    seq: Mapped[int] = mapped_column(Integer)  # 1-based
    total: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12), default="sent")
    error_code: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class SmppInbound(Base):
    """One inbound short message (a whole SMS or one part of a long one), as received."""

    __tablename__ = "smpp_inbound"
    __table_args__ = (
        Index("ix_smpp_inbound_open", "source", "ref", "total", "stored_as"),
        Index("ix_smpp_inbound_digest", "digest", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(24))
    destination: Mapped[str] = mapped_column(String(24))
    ref: Mapped[int | None] = mapped_column(Integer)  # the concatenation reference
    total: Mapped[int] = mapped_column(Integer, default=1)
    seq: Mapped[int] = mapped_column(Integer, default=1)
    data_coding: Mapped[int] = mapped_column(Integer)
    payload_hex: Mapped[str] = mapped_column(Text)  # the short message without its UDH
    digest: Mapped[str] = mapped_column(String(64))  # spots the SMSC's redelivery
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # The tip's provider message id once stored (``smpp-<first part's id>``); NULL while waiting.
    stored_as: Mapped[str | None] = mapped_column(String(64))
