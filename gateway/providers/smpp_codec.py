"""SMPP 3.4 without the network: parts to submit, inbound parts to read, receipts, statuses.

Pure functions, so the rules are tested on their own: the parts agree with
``campaigns.encoding`` (the composer's segment count is what the SMSC gets), inbound UDH with
8- and 16-bit references and SAR are read, receipts parsed, and every ``command_status`` maps
to one outcome through :data:`COMMAND_STATUSES` (like Twilio's ``ERRORS``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from campaigns import encoding
from campaigns.sending import Effect, Outcome

GSM_DEFAULT = 0  # data_coding: the SMSC's default alphabet (GSM 03.38, one septet per octet)
ASCII = 1
LATIN1 = 3
UCS2 = 8
UDHI = 0x40  # esm_class: the short message starts with a user data header

# GSM 03.38: the basic table by code, and the extension table reached with ESC (0x1B).
_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_EXTENSION = {0x0A: "\f", 0x14: "^", 0x28: "{", 0x29: "}", 0x2F: "\\", 0x3C: "[", 0x3D: "~", 0x3E: "]", 0x40: "|", 0x65: "€"}  # fmt: skip
_ENCODE = {ch: bytes([i]) for i, ch in enumerate(_BASIC) if ch != "\x1b"}
_ENCODE.update({ch: bytes([0x1B, code]) for code, ch in _EXTENSION.items()})


@dataclass(frozen=True, slots=True)
class Part:
    """One ``submit_sm``'s payload."""

    short_message: bytes  # with the UDH in front when esm_class has UDHI (0x40)
    esm_class: int
    data_coding: int
    message_payload: bytes | None = None  # long_messages="payload": one PDU, no short_message


@dataclass(frozen=True, slots=True)
class Concat:
    """Where an inbound part belongs: its message's reference, how many parts, which one."""

    ref: int
    total: int
    seq: int


@dataclass(frozen=True, slots=True)
class Receipt:
    """A delivery receipt: the SMSC's message id, its state and error, and Loa's status."""

    message_id: str
    stat: str
    err: str | None
    status: str


@dataclass(frozen=True, slots=True)
class CommandStatus:
    """What a ``submit_sm_resp``'s command_status means for the message."""

    outcome: Outcome
    effect: Effect
    name: str


def gsm_encode(text: str) -> bytes:
    """``text`` in GSM 03.38, one septet per octet (as SMPP carries data_coding 0).

    Raises:
        UnicodeEncodeError: for a character outside the GSM alphabet.
    """
    try:
        return b"".join(_ENCODE[ch] for ch in text)
    except KeyError as exc:
        raise UnicodeEncodeError("gsm03.38", text, 0, 1, f"{exc.args[0]!r} is not GSM") from None


def gsm_decode(data: bytes) -> str | None:
    """GSM 03.38 octets as text; None when they are not GSM (a septet above 0x7F)."""
    out, escape = [], False
    for b in data:
        if b > 0x7F:
            return None
        if escape:
            out.append(_EXTENSION.get(b, " "))  # an unknown escape reads as a space (03.38)
            escape = False
        elif b == 0x1B:
            escape = True
        else:
            out.append(_BASIC[b])
    return "".join(out)


def submit_parts(text: str, ref: int, *, long_messages: str = "udh") -> list[Part]:
    """The PDUs that carry ``text``, split exactly as ``campaigns.encoding`` counts segments.

    Args:
        text: the message (NFC-normalised here, as the composer counts it).
        ref: the concatenation reference (0–255) of a long message.
        long_messages: ``udh`` (parts with an 8-bit reference UDH) or ``payload`` (one PDU
            with ``message_payload``).
    Returns:
        one part for a text that fits one SMS, else one per segment.
    """
    gsm = encoding.is_gsm7(text)
    coding = GSM_DEFAULT if gsm else UCS2

    def encode(piece: str) -> bytes:
        return gsm_encode(piece) if gsm else piece.encode("utf-16-be")

    segments = encoding.split_segments(text) or [""]
    if len(segments) == 1:
        return [Part(encode(segments[0]), 0, coding)]
    if long_messages == "payload":
        return [Part(b"", 0, coding, message_payload=encode("".join(segments)))]
    total = len(segments)
    return [
        Part(bytes([0x05, 0x00, 0x03, ref & 0xFF, total, seq]) + encode(piece), UDHI, coding)
        for seq, piece in enumerate(segments, start=1)
    ]


def read_short_message(
    short_message: bytes,
    esm_class: int,
    data_coding: int,
    sar: tuple[int, int, int] | None = None,
) -> tuple[Concat | None, bytes]:
    """Split an inbound short message into where it belongs and its payload.

    Args:
        short_message: the octets as received.
        esm_class: UDHI (0x40) says a user data header comes first.
        data_coding: kept for symmetry with :func:`decode` (the header is octets either way).
        sar: ``(sar_msg_ref_num, sar_total_segments, sar_segment_seqnum)`` when given as TLVs.
    Returns:
        the concatenation info (None for a whole message) and the payload without the header.
    """
    concat = Concat(*sar) if sar and sar[1] and sar[1] > 1 else None
    if not esm_class & UDHI or not short_message:
        return concat, short_message
    length = short_message[0]
    header, payload = short_message[1 : 1 + length], short_message[1 + length :]
    i = 0
    while i + 2 <= len(header):
        iei, size = header[i], header[i + 1]
        value = header[i + 2 : i + 2 + size]
        if iei == 0x00 and size == 3 and len(value) == 3:
            concat = Concat(value[0], value[1], value[2])
        elif iei == 0x08 and size == 4 and len(value) == 4:
            concat = Concat((value[0] << 8) | value[1], value[2], value[3])
        i += 2 + size
    if concat is not None and (concat.total < 1 or not 1 <= concat.seq <= concat.total):
        concat = None  # a header that makes no sense: read the part as a whole message
    return concat, payload


def decode(data: bytes, data_coding: int) -> str | None:
    """The text of ``data`` in ``data_coding``; None when Loa cannot read it."""
    try:
        if data_coding == GSM_DEFAULT:
            return gsm_decode(data)
        if data_coding == ASCII:
            return data.decode("ascii")
        if data_coding == LATIN1:
            return data.decode("latin-1")
        if data_coding == UCS2:
            return data.decode("utf-16-be")
    except UnicodeDecodeError:
        return None
    return None


RECEIPT_STATES = {
    "DELIVRD": "delivered",
    "ACCEPTD": "sent",
    "ENROUTE": "sent",
    "UNDELIV": "undelivered",
    "EXPIRED": "undelivered",
    "DELETED": "failed",
    "REJECTD": "failed",
    "UNKNOWN": "unknown",
}
# The message_state TLV (SMPP 3.4 §5.3.2.35) by number.
MESSAGE_STATES = {1: "ENROUTE", 2: "DELIVRD", 3: "EXPIRED", 4: "DELETED", 5: "UNDELIV", 6: "ACCEPTD", 7: "UNKNOWN", 8: "REJECTD"}  # fmt: skip
_FIELD = re.compile(r"(id|sub|dlvrd|submit date|done date|stat|err|text):\s*(\S*)", re.IGNORECASE)


def parse_receipt(
    text: bytes | str, receipted_message_id: str | None = None, message_state: int | None = None
) -> Receipt | None:
    """Read a delivery receipt from its text (``id:… stat:DELIVRD err:000 …``) or its TLVs
    (which win when both are there); None when neither says which message and what state."""
    if isinstance(text, bytes):
        text = text.decode("latin-1")
    fields = {k.lower(): v for k, v in _FIELD.findall(text)}
    message_id = (receipted_message_id or fields.get("id") or "").strip()
    stat = MESSAGE_STATES.get(message_state or 0) or fields.get("stat", "").upper()
    if not message_id or stat not in RECEIPT_STATES:
        return None
    err = fields.get("err") or None
    return Receipt(message_id=message_id, stat=stat, err=err, status=RECEIPT_STATES[stat])


def _s(outcome: Outcome, name: str, effect: Effect = Effect.NONE) -> CommandStatus:
    return CommandStatus(outcome, effect, name)


RETRY, FAILED = Outcome.RETRY, Outcome.FAILED
COMMAND_STATUSES: dict[int, CommandStatus] = {
    0x00: _s(Outcome.ACCEPTED, "ESME_ROK"),
    0x01: _s(FAILED, "ESME_RINVMSGLEN"),
    0x02: _s(FAILED, "ESME_RINVCMDLEN"),
    0x03: _s(FAILED, "ESME_RINVCMDID"),
    0x04: _s(FAILED, "ESME_RINVBNDSTS", Effect.HALT),  # not bound to send
    0x05: _s(FAILED, "ESME_RALYBND", Effect.HALT),
    0x06: _s(FAILED, "ESME_RINVPRTFLG"),
    0x07: _s(FAILED, "ESME_RINVREGDLVFLG"),
    0x08: _s(RETRY, "ESME_RSYSERR"),  # the SMSC failed before accepting it
    0x0A: _s(FAILED, "ESME_RINVSRCADR", Effect.HALT),  # the sender is not allowed
    0x0B: _s(FAILED, "ESME_RINVDSTADR", Effect.INVALID_NUMBER),
    0x0C: _s(FAILED, "ESME_RINVMSGID"),
    0x0D: _s(FAILED, "ESME_RBINDFAIL", Effect.HALT),
    0x0E: _s(FAILED, "ESME_RINVPASWD", Effect.HALT),
    0x0F: _s(FAILED, "ESME_RINVSYSID", Effect.HALT),
    0x11: _s(FAILED, "ESME_RCANCELFAIL"),
    0x13: _s(FAILED, "ESME_RREPLACEFAIL"),
    0x14: _s(RETRY, "ESME_RMSGQFUL", Effect.SLOW_DOWN),
    0x15: _s(FAILED, "ESME_RINVSERTYP"),
    0x33: _s(FAILED, "ESME_RINVNUMDESTS"),
    0x34: _s(FAILED, "ESME_RINVDLNAME"),
    0x40: _s(FAILED, "ESME_RINVDESTFLAG"),
    0x42: _s(FAILED, "ESME_RINVSUBREP"),
    0x43: _s(FAILED, "ESME_RINVESMCLASS"),
    0x44: _s(FAILED, "ESME_RCNTSUBDL"),
    0x45: _s(RETRY, "ESME_RSUBMITFAIL"),  # submit_sm failed at the SMSC: not accepted
    0x48: _s(FAILED, "ESME_RINVSRCTON", Effect.HALT),
    0x49: _s(FAILED, "ESME_RINVSRCNPI", Effect.HALT),
    0x50: _s(FAILED, "ESME_RINVDSTTON", Effect.HALT),
    0x51: _s(FAILED, "ESME_RINVDSTNPI", Effect.HALT),
    0x53: _s(FAILED, "ESME_RINVSYSTYP", Effect.HALT),
    0x54: _s(FAILED, "ESME_RINVREPFLAG"),
    0x55: _s(FAILED, "ESME_RINVNUMMSGS"),
    0x58: _s(RETRY, "ESME_RTHROTTLED"),
    0x61: _s(FAILED, "ESME_RINVSCHED"),
    0x62: _s(FAILED, "ESME_RINVEXPIRY"),
    0x63: _s(FAILED, "ESME_RINVDFTMSGID"),
    0x64: _s(RETRY, "ESME_RX_T_APPN"),
    0x65: _s(FAILED, "ESME_RX_P_APPN"),
    0x66: _s(FAILED, "ESME_RX_R_APPN"),
    0x67: _s(FAILED, "ESME_RQUERYFAIL"),
    0xC0: _s(FAILED, "ESME_RINVOPTPARSTREAM"),
    0xC1: _s(FAILED, "ESME_ROPTPARNOTALLWD"),
    0xC2: _s(FAILED, "ESME_RINVPARLEN"),
    0xC3: _s(FAILED, "ESME_RMISSINGOPTPARAM"),
    0xC4: _s(FAILED, "ESME_RINVOPTPARAMVAL"),
    0xFE: _s(FAILED, "ESME_RDELIVERYFAILURE"),
    0xFF: _s(FAILED, "ESME_RUNKNOWNERR"),
}


def command_status(code: int) -> CommandStatus:
    """What ``code`` in a ``submit_sm_resp`` means (an unknown code fails the message)."""
    return COMMAND_STATUSES.get(code) or _s(FAILED, f"0x{code:08X}")
