"""What arrives on an SMPP bind: delivery receipts, and citizens' messages that become tips.

The link (``gateway.smpp_link``) calls these with one ``deliver_sm`` at a time and answers the
SMSC only after they return, so what they commit is safe before the SMSC forgets it:

- a receipt updates the part it names; the parts of a message roll up into one delivery
  status (a failed part fails the message; delivered only when every part is) and move the
  delivery forward through the same monotonic path as Twilio's callbacks (invariant 8);
- a message is kept as received (raw bytes, hex) in ``smpp_inbound``; once whole (or, for the
  parts of a long message, once every part is in) it goes to ``receive_inbound`` and is
  committed as a tip before the ``deliver_sm_resp`` (invariant 4). A part whose siblings never
  arrive is stored as what it is by :func:`sweep`, never dropped. A redelivered PDU (the SMSC
  did not get our answer) is recognised by its digest and stored once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from campaigns import statuses
from campaigns.db import utcnow
from campaigns.phones import mask
from gateway.providers import StatusUpdate
from gateway.providers.smpp import SmppProvider
from gateway.providers.smpp_codec import decode, read_short_message
from gateway.providers.smpp_models import SmppInbound, SmppPart
from gateway.tips.intake import receive_inbound
from gateway.tips.line import TipLine

log = logging.getLogger("loa.smpp")

REDELIVERY_WINDOW = dt.timedelta(hours=6)  # the same PDU again within this is a redelivery
FAILURES = (statuses.UNDELIVERED, statuses.FAILED)


@dataclass(frozen=True, slots=True)
class ShortMessage:
    """The fields of an inbound ``deliver_sm`` that make a message."""

    source: str
    source_ton: int
    destination: str
    esm_class: int
    data_coding: int
    short_message: bytes
    sar: tuple[int, int, int] | None = None  # (ref, total, seq) from the SAR TLVs


def rollup(parts: list[str], total: int) -> str:
    """The status of a message from its parts' statuses: the worst failure if any part failed,
    delivered once all ``total`` parts are, else sent."""
    failed = [s for s in parts if s in FAILURES]
    if failed:
        return max(failed, key=statuses.RANK.__getitem__)
    if len(parts) >= total and all(s == statuses.DELIVERED for s in parts):
        return statuses.DELIVERED
    return statuses.SENT


def apply_part_receipt(session: Session, update: StatusUpdate) -> bool:
    """Record a part's receipt and move its delivery forward; the caller commits.

    Returns:
        whether a delivery changed (False for an unknown message id or a reply's receipt).
    """
    part = session.scalar(
        select(SmppPart)
        .where(SmppPart.message_id == (update.provider_message_id or ""))
        .order_by(SmppPart.id.desc())
        .limit(1)
    )
    if part is None:
        log.info("smpp: a receipt for a message Loa does not know")
        return False
    if statuses.RANK.get(update.status, 0) > statuses.RANK.get(part.status, 0):
        part.status = update.status
        part.error_code = update.error_code or part.error_code
    session.flush()
    siblings = session.execute(
        select(SmppPart.status, SmppPart.error_code).where(
            SmppPart.first_message_id == part.first_message_id,
            SmppPart.delivery_id == part.delivery_id,
        )
    ).all()
    status = rollup([s for s, _ in siblings], part.total)
    if part.delivery_id is None or status == statuses.SENT:
        return False
    codes = [c for s, c in siblings if s == status and c]
    return statuses.apply_receipt(
        session,
        delivery_id=part.delivery_id,
        provider_message_id=part.first_message_id,
        status=status,
        error_code=codes[0] if codes else None,
        segment=part.seq,
    )


def sender_number(source: str, ton: int) -> str:
    """The sender as the tip line reads it: international numbers get their ``+``."""
    digits = source.strip()
    if ton == 1 and digits.isdigit():
        return "+" + digits
    return digits


def _digest(m: ShortMessage) -> str:
    h = hashlib.sha256()
    for piece in (m.source, m.destination, str(m.esm_class), str(m.data_coding), str(m.sar)):
        h.update(piece.encode() + b"\x00")
    h.update(m.short_message)
    return h.hexdigest()


def receive_message(
    session: Session, line: TipLine, provider: SmppProvider, message: ShortMessage
) -> str:
    """Keep one inbound message (or part) and store the tip once it is whole; commits.

    Returns:
        what happened: ``redelivered``, ``part`` (waiting for its siblings) or ``stored``.
    """
    digest = _digest(message)
    since = utcnow() - REDELIVERY_WINDOW
    seen = session.scalar(
        select(SmppInbound.id).where(SmppInbound.digest == digest, SmppInbound.received_at > since)
    )
    if seen is not None:
        return "redelivered"
    concat, payload = read_short_message(
        message.short_message, message.esm_class, message.data_coding, message.sar
    )
    row = SmppInbound(
        source=sender_number(message.source, message.source_ton)[:24],
        destination=message.destination[:24],
        ref=concat.ref if concat else None,
        total=concat.total if concat else 1,
        seq=concat.seq if concat else 1,
        data_coding=message.data_coding,
        payload_hex=payload.hex(),
        digest=digest,
    )
    session.add(row)
    session.flush()
    group = [row]
    if concat is not None and concat.total > 1:
        group = _open_group(session, row, line.settings.smpp_part_timeout_seconds)
        if len({r.seq for r in group}) < concat.total:
            session.commit()
            return "part"
    _store(session, line, provider, group)
    return "stored"


def _open_group(session: Session, row: SmppInbound, timeout_seconds: int) -> list[SmppInbound]:
    since = utcnow() - dt.timedelta(seconds=timeout_seconds)
    return list(
        session.scalars(
            select(SmppInbound)
            .where(
                SmppInbound.source == row.source,
                SmppInbound.ref == row.ref,
                SmppInbound.total == row.total,
                SmppInbound.stored_as.is_(None),
                SmppInbound.received_at >= since,
            )
            .order_by(SmppInbound.seq, SmppInbound.id)
        )
    )


def text_of(group: list[SmppInbound]) -> str:
    """The text of a message from its parts (in order, one per number); a part in an encoding
    Loa cannot read is shown as such (its bytes stay in ``smpp_inbound``), a missing part too."""
    by_seq: dict[int, SmppInbound] = {}
    for r in group:
        by_seq.setdefault(r.seq, r)
    total = group[0].total
    codings = {r.data_coding for r in by_seq.values()}
    if len(codings) == 1 and len(by_seq) == total:
        joined = b"".join(bytes.fromhex(by_seq[s].payload_hex) for s in sorted(by_seq))
        text = decode(joined, codings.pop())
        if text is not None:
            return text
    pieces = []
    for seq in range(1, total + 1):
        part = by_seq.get(seq)
        if part is None:
            pieces.append(f"[thiếu phần {seq}/{total}]")
            continue
        read = decode(bytes.fromhex(part.payload_hex), part.data_coding)
        if read is None:
            size = len(part.payload_hex) // 2
            read = f"[không đọc được: data_coding={part.data_coding}, {size} byte]"
        pieces.append(read)
    return "".join(pieces)


def _store(
    session: Session, line: TipLine, provider: SmppProvider, group: list[SmppInbound]
) -> None:
    first = min(group, key=lambda r: r.id)
    mid = f"smpp-{first.id}"
    for r in group:
        r.stored_as = mid
    inbound = provider.parse_inbound(
        {"id": mid, "from": first.source, "to": first.destination, "text": text_of(group)}
    )
    receive_inbound(session, line, inbound, inline_reply=False)  # commits rows and tip together
    log.info("smpp: message %s from %s stored (%d parts)", mid, mask(first.source), len(group))


def sweep(session: Session, line: TipLine, provider: SmppProvider) -> int:
    """Store the long messages whose missing parts did not come in time, as they are.

    Returns:
        how many messages were stored.
    """
    cutoff = utcnow() - dt.timedelta(seconds=line.settings.smpp_part_timeout_seconds)
    stale = session.execute(
        select(SmppInbound.source, SmppInbound.ref, SmppInbound.total)
        .where(SmppInbound.stored_as.is_(None))
        .group_by(SmppInbound.source, SmppInbound.ref, SmppInbound.total)
        .having(func.min(SmppInbound.received_at) < cutoff)
    ).all()
    for source, ref, total in stale:
        group = list(
            session.scalars(
                select(SmppInbound).where(
                    SmppInbound.source == source,
                    SmppInbound.ref == ref,
                    SmppInbound.total == total,
                    SmppInbound.stored_as.is_(None),
                )
            )
        )
        if group:
            _store(session, line, provider, group)
    return len(stale)
