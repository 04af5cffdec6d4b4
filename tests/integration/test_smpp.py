"""SMPP against an SMSC we did not write (node-smpp in server mode, tests/smsc/smsc.js)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from redis import Redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns.sending import OutboundMessage, Outcome
from gateway.providers.smpp import SmppProvider
from gateway.providers.smpp_models import SmppPart
from tests.factories import OFFICIAL_TEXT
from tests.fakes.smsc import eventually

TO = "+84981234567"


def bound(link: Any) -> bool:
    return link.state == "bound"


def test_a_message_goes_out_once_and_its_receipt_comes_back(
    smpp_link: Any, smpp_settings: Any, fake_smsc: Any, redis_conn: Redis, new_session: Session
) -> None:
    """The official text leaves as 4 UCS-2 parts with a UDH, from the short code, with
    registered delivery; node-smpp reads them back as the exact text; a receipt per part."""
    link = smpp_link()
    eventually(lambda: bound(link))
    provider = SmppProvider(smpp_settings, redis=redis_conn)
    result = provider.send(OutboundMessage(to=TO, body=OFFICIAL_TEXT, delivery_id=7))
    assert result.outcome is Outcome.ACCEPTED and result.provider_message_id
    parts = fake_smsc.accepted()
    assert len(parts) == 4
    assert {(p["destination_addr"], p["source_addr"], p["data_coding"]) for p in parts} == {
        ("84981234567", "8079", 8)
    }
    assert all(p["registered_delivery"] == 1 and p["esm_class"] & 0x40 for p in parts)
    assert "".join(p["text"] for p in parts) == OFFICIAL_TEXT
    assert result.provider_message_id == parts[0]["message_id"]
    eventually(lambda: delivered_parts(new_session) == [1, 2, 3, 4])


def delivered_parts(s: Session) -> list[int]:
    s.expire_all()
    return sorted(r.seq for r in s.scalars(select(SmppPart)) if r.status == "delivered")


def test_a_refused_bind_is_retried_and_nothing_is_lost(
    smpp_link: Any, smpp_settings: Any, fake_smsc: Any, redis_conn: Redis
) -> None:
    """While the SMSC refuses the bind, a send is handed back untaken (RETRY: provably not
    sent); once the SMSC accepts, the link binds by itself and sends."""
    fake_smsc.program(refuse_binds=True)
    link = smpp_link()
    eventually(lambda: [b for b in fake_smsc.binds() if not b["accepted"]])
    eventually(lambda: link.state in ("refused", "waiting"))
    provider = SmppProvider(
        smpp_settings.model_copy(update={"smpp_submit_timeout_seconds": 1.0}), redis=redis_conn
    )
    result = provider.send(OutboundMessage(to=TO, body="a"))
    assert (result.outcome, result.error_code) == (Outcome.RETRY, "NOT-TAKEN")
    assert redis_conn.llen("loa:smpp:loa:out") == 0  # taken back, never to be sent later
    fake_smsc.program(refuse_binds=False)
    eventually(lambda: bound(link), timeout=20)
    assert provider.send(OutboundMessage(to=TO, body="a")).outcome is Outcome.ACCEPTED
    assert [s["destination_addr"] for s in fake_smsc.submits()] == ["84981234567"]


def test_throttling_backs_off_and_sends_once(
    smpp_link: Any, smpp_settings: Any, fake_smsc: Any, redis_conn: Redis
) -> None:
    """ESME_RTHROTTLED and ESME_RMSGQFUL pause the bind and retry the part: accepted once."""
    link = smpp_link()
    eventually(lambda: bound(link))
    fake_smsc.program(statuses=[0x58, 0x14])
    provider = SmppProvider(smpp_settings.model_copy(update={"smpp_submit_timeout_seconds": 15.0}), redis=redis_conn)  # fmt: skip
    result = provider.send(OutboundMessage(to=TO, body="Khong dau, mot phan"))
    assert result.outcome is Outcome.ACCEPTED
    assert [s["status"] for s in fake_smsc.submits()] == [0x58, 0x14, 0]


def test_a_refusal_maps_through_the_table(
    smpp_link: Any, smpp_settings: Any, fake_smsc: Any, redis_conn: Redis
) -> None:
    """An invalid destination fails for good and marks the number invalid; never retried."""
    link = smpp_link()
    eventually(lambda: bound(link))
    fake_smsc.program(statuses=[0x0B])
    result = SmppProvider(smpp_settings, redis=redis_conn).send(OutboundMessage(to=TO, body="a"))
    assert (result.outcome, result.error_code, result.effect.value) == (
        Outcome.FAILED, "ESME_RINVDSTADR", "invalid_number",
    )  # fmt: skip
    assert len(fake_smsc.submits()) == 1


def test_no_answer_is_unknown_and_never_resent(
    smpp_link: Any, smpp_settings: Any, fake_smsc: Any, redis_conn: Redis
) -> None:
    """A submit_sm the SMSC never answers makes the message unknown; it is not sent again."""
    link = smpp_link(smpp_submit_timeout_seconds=1.0)
    eventually(lambda: bound(link))
    fake_smsc.program(hang=1)
    provider = SmppProvider(smpp_settings.model_copy(update={"smpp_submit_timeout_seconds": 1.0}), redis=redis_conn)  # fmt: skip
    result = provider.send(OutboundMessage(to=TO, body="a"))
    assert (result.outcome, result.error_code) == (Outcome.UNKNOWN, "NO-RESP")
    assert len(fake_smsc.submits()) == 1


def test_plain_text_goes_in_the_default_alphabet(
    smpp_link: Any, smpp_settings: Any, fake_smsc: Any, redis_conn: Redis
) -> None:
    """A text without diacritics is data_coding 0 (GSM 03.38), one part, read back exactly."""
    link = smpp_link()
    eventually(lambda: bound(link))
    text = "Phong chong mua ban nguoi: goi 111 [mien phi] €0"
    assert SmppProvider(smpp_settings, redis=redis_conn).send(OutboundMessage(to=TO, body=text)).outcome is Outcome.ACCEPTED  # fmt: skip
    (submit,) = fake_smsc.submits()
    assert (submit["data_coding"], submit["esm_class"], submit["text"]) == (0, 0, text)


def test_long_messages_as_one_payload(
    smpp_link: Any, smpp_settings: Any, fake_smsc: Any, redis_conn: Redis
) -> None:
    """LOA_SMPP_LONG_MESSAGES=payload: one submit_sm carrying message_payload."""
    settings = smpp_settings.model_copy(update={"smpp_long_messages": "payload"})
    link = smpp_link(smpp_long_messages="payload")
    eventually(lambda: bound(link))
    result = SmppProvider(settings, redis=redis_conn).send(OutboundMessage(to=TO, body=OFFICIAL_TEXT))  # fmt: skip
    assert result.outcome is Outcome.ACCEPTED
    (submit,) = fake_smsc.submits()
    assert (
        submit["data_coding"] == 8
        and submit["payload"] == OFFICIAL_TEXT
        and submit["text"] in (None, "")
    )


# --- tips arriving on the bind ----------------------------------------------------------------

CITIZEN = "84912345678"
LONG_TIP = (
    "Tôi thấy một nhóm người lạ đưa ba cô gái trẻ lên xe khách đi về phía biên giới lúc 5 giờ "
    "sáng nay ở ấp Phú Hữu, họ nói đi làm nhà hàng lương cao nhưng giữ hết giấy tờ tùy thân. "
    "Xin công an kiểm tra giúp, tôi không dám nói tên."
)


def tips(s: Session) -> list[Any]:
    from gateway.tips.models import Tip

    s.expire_all()
    return list(s.scalars(select(Tip).order_by(Tip.id)))


def first_attempts(fake: Any, kind: str = "mo") -> list[Any]:
    return [m["attempts"][0]["status"] if m["attempts"] else None for m in fake.mo() if m["kind"] == kind]  # fmt: skip


def test_a_long_tip_in_parts_is_stored_once_whole(
    smpp_link: Any, fake_smsc: Any, new_session: Session
) -> None:
    """A UCS-2 tip in 4 parts (8-bit reference) becomes one tip with the exact text, from the
    citizen's number, on the smpp channel; every part is answered ESME_ROK; the
    acknowledgement is queued on the replies lane."""
    from gateway.tips.models import Reply

    link = smpp_link()
    eventually(lambda: bound(link))
    assert fake_smsc.send_mo(CITIZEN, LONG_TIP) == 4
    (tip,) = eventually(lambda: tips(new_session))
    assert (tip.body, tip.sender, tip.channel, tip.provider) == (
        LONG_TIP,
        "+84912345678",
        "smpp",
        "smpp",
    )
    eventually(lambda: first_attempts(fake_smsc) == [0, 0, 0, 0])
    reply = new_session.scalar(select(Reply).where(Reply.tip_id == tip.id))
    assert reply is not None and reply.kind == "ack" and reply.to_phone == "+84912345678"


def test_sixteen_bit_references_and_plain_text(
    smpp_link: Any, fake_smsc: Any, new_session: Session
) -> None:
    """A GSM text in 2 parts with 16-bit references is reassembled exactly."""
    link = smpp_link()
    eventually(lambda: bound(link))
    text = "Co nguoi la du tre em o Ke Sach di lam xa, hua luong cao. " * 4
    assert fake_smsc.send_mo(CITIZEN, text, udh16=True) == 2
    (tip,) = eventually(lambda: tips(new_session))
    assert tip.body == text.strip()


def test_a_tip_not_stored_is_not_acknowledged_and_comes_again(
    smpp_link: Any, fake_smsc: Any, new_session: Session, monkeypatch: Any
) -> None:
    """deliver_sm_resp goes only after the commit: when storing fails, Loa answers a temporary
    error, the SMSC delivers the message again, and it is stored once."""
    from gateway import smpp_inbound

    real = smpp_inbound.receive_inbound
    calls = []

    def flaky(*args: Any, **kw: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database went away")
        return real(*args, **kw)

    monkeypatch.setattr(smpp_inbound, "receive_inbound", flaky)
    fake_smsc.program(redeliver_after_ms=1000)
    link = smpp_link()
    eventually(lambda: bound(link))
    fake_smsc.send_mo(CITIZEN, "Cứu với, có người bị nhốt")
    (tip,) = eventually(lambda: tips(new_session))
    assert tip.body == "Cứu với, có người bị nhốt"
    (mo,) = eventually(lambda: [m for m in fake_smsc.mo() if len(m["attempts"]) == 2 and m["attempts"][1]["status"] == 0])  # fmt: skip
    assert mo["attempts"][0]["status"] == 0x64  # ESME_RX_T_APPN: deliver it again


def test_a_redelivered_message_is_stored_once(
    smpp_link: Any, fake_smsc: Any, new_session: Session
) -> None:
    """The SMSC sends the same PDU again before Loa's answer arrives: one tip."""
    fake_smsc.program(redeliver_after_ms=1, max_redeliveries=2)
    link = smpp_link()
    eventually(lambda: bound(link))
    fake_smsc.send_mo(CITIZEN, "tin báo: xe biển số 83A-12345 chở người")
    eventually(lambda: [m for m in fake_smsc.mo() if len(m["attempts"]) >= 2])
    eventually(lambda: tips(new_session))
    import time

    time.sleep(0.5)
    assert len(tips(new_session)) == 1


def test_a_part_whose_siblings_never_come_is_stored_as_it_is(
    smpp_link: Any, fake_smsc: Any, new_session: Session
) -> None:
    """Part 2 of 4 never arrives: after the timeout the tip is stored with what came, saying
    which part is missing; nothing is dropped."""
    link = smpp_link(smpp_part_timeout_seconds=1)
    link.sweep_every = 0.2
    eventually(lambda: bound(link))
    fake_smsc.send_mo(CITIZEN, LONG_TIP, skip_parts=[1])
    (tip,) = eventually(lambda: tips(new_session), timeout=15)
    assert "[thiếu phần 2/4]" in tip.body
    assert tip.body.startswith(LONG_TIP[:40])


def test_an_unreadable_encoding_is_stored_with_its_bytes(
    smpp_link: Any, fake_smsc: Any, new_session: Session
) -> None:
    """data_coding 4 (8-bit binary): the tip says so and the raw bytes are kept."""
    from gateway.providers.smpp_models import SmppInbound

    link = smpp_link()
    eventually(lambda: bound(link))
    fake_smsc.send_mo(CITIZEN, raw_hex="deadbeef00ff", data_coding=4)
    (tip,) = eventually(lambda: tips(new_session))
    assert tip.body == "[không đọc được: data_coding=4, 6 byte]"
    row = new_session.scalar(select(SmppInbound))
    assert row is not None and row.payload_hex == "deadbeef00ff" and row.stored_as == tip.provider_message_id  # fmt: skip


def test_an_opt_out_keyword_is_not_a_tip(
    smpp_link: Any, fake_smsc: Any, new_session: Session
) -> None:
    """HUY over SMPP opts the number out; no tip is stored."""
    from campaigns.models import OptOut

    link = smpp_link()
    eventually(lambda: bound(link))
    fake_smsc.send_mo(CITIZEN, "HUY")
    eventually(lambda: new_session.expire_all() or new_session.scalar(select(OptOut.phone)))
    assert tips(new_session) == []


def test_a_malformed_pdu_is_answered_and_the_bind_stays(
    smpp_link: Any, smpp_settings: Any, fake_smsc: Any, redis_conn: Redis
) -> None:
    """An unknown command id gets generic_nack with ESME_RINVCMDID; the link keeps working."""
    link = smpp_link()
    eventually(lambda: bound(link))
    fake_smsc.raw("00000010000000ff000000000000004d")  # 16 bytes, command 0xFF, sequence 77
    (nack,) = eventually(lambda: [m for m in fake_smsc.mo() if m["kind"] == "generic_nack"])
    assert (nack["status"], nack["sequence_number"]) == (0x03, 77)
    assert SmppProvider(smpp_settings, redis=redis_conn).send(OutboundMessage(to=TO, body="a")).outcome is Outcome.ACCEPTED  # fmt: skip


# --- campaigns over the bind --------------------------------------------------------------------


def run_campaign(session: Session, rq_worker: Any, n: int, **kw: Any) -> Any:
    from tests.integration.dispatch_support import approved_campaign, bulk_contacts
    from workers import dispatch as jobs

    if n:
        bulk_contacts(session, n)
    campaign = approved_campaign(session, provider="smpp", **kw)
    assert jobs.launch(campaign.id)["launched"] is True
    rq_worker.run()
    return campaign


def deliveries(s: Session, campaign_id: int) -> list[Any]:
    from campaigns.models import Delivery

    s.expire_all()
    return list(s.scalars(select(Delivery).where(Delivery.campaign_id == campaign_id)))


def test_the_link_cut_mid_campaign_sends_nobody_twice_and_loses_nobody(
    app: Any,
    session: Session,
    smpp_link: Any,
    smpp_settings: Any,
    fake_smsc: Any,
    rq_worker: Any,
    redis_conn: Redis,
) -> None:
    """The SMSC drops the connection at the 15th submit_sm of 40. What was in flight is
    unknown and never resent; what never left goes back to pending; the link binds again and
    the rest goes out: every recipient accounted for, nobody accepted twice."""
    from sqlalchemy import update

    from campaigns import reports
    from campaigns.models import Delivery
    from workers import dispatch as jobs
    from workers import runtime

    runtime.configure(smpp_settings)
    link = smpp_link()
    eventually(lambda: bound(link))
    fake_smsc.program(cut_after=15, delay_ms=20)
    campaign = run_campaign(session, rq_worker, 40)
    first = deliveries(session, campaign.id)
    unknown = {d.phone for d in first if d.error_code in ("LINK-CUT", "NO-RESP")}
    assert unknown, "the cut should leave messages in flight"
    eventually(lambda: [b for b in fake_smsc.binds() if b["open"]], timeout=20)  # bound again
    session.execute(
        update(Delivery).where(Delivery.status == "pending").values(next_attempt_at=None)
    )
    session.commit()
    jobs.enqueue_planned(session, redis_conn, campaign.id)
    rq_worker.run()
    accepted = [s["destination_addr"] for s in fake_smsc.accepted()]
    assert len(accepted) == len(set(accepted))  # nobody twice
    tries = Counter(s["destination_addr"] for s in fake_smsc.submits())
    assert all(tries["84" + u[3:]] <= 1 for u in unknown)  # unknown: never resent
    counts = reports.counts(session, campaign.id)
    assert reports.total(counts) == 40
    final = deliveries(session, campaign.id)
    assert all(d.status in ("sent", "delivered", "sending") for d in final)
    assert {d.phone for d in final if d.status == "sending"} == unknown  # for the reconciler
    assert {"84" + d.phone[3:] for d in final if d.status != "sending"} <= set(accepted)


def test_receipts_of_every_part_roll_up(
    app: Any,
    session: Session,
    smpp_link: Any,
    smpp_settings: Any,
    fake_smsc: Any,
    rq_worker: Any,
) -> None:
    """The official text in 4 parts to 3 people: delivered once every part is; one failed part
    (part 3, for everybody here) fails the whole message, whatever the others say."""
    from workers import runtime

    runtime.configure(smpp_settings)
    link = smpp_link()
    eventually(lambda: bound(link))
    campaign = run_campaign(session, rq_worker, 3, body=OFFICIAL_TEXT, segments_per_message=4)
    eventually(lambda: {d.status for d in deliveries(session, campaign.id)} == {"delivered"})
    assert len(fake_smsc.accepted()) == 12
    fake_smsc.reset()
    fake_smsc.program(receipt_stat_seq={"3": "UNDELIV"})
    eventually(lambda: [b for b in fake_smsc.binds() if b["open"]], timeout=20)  # bound again
    second = run_campaign(session, rq_worker, 0, body=OFFICIAL_TEXT, segments_per_message=4, name="again")  # fmt: skip
    eventually(lambda: {d.status for d in deliveries(session, second.id)} == {"undelivered"})


def test_loa_smpp_stores_tips_without_flask_and_the_ack_goes_back_over_smpp(
    app: Any,
    smpp_settings: Any,
    fake_smsc: Any,
    new_session: Session,
    rq_worker: Any,
    tmp_path: Any,
) -> None:
    """The real command: `loa smpp` binds, stores a citizen's tip, and stops cleanly (unbinds)
    on SIGTERM; the acknowledgement, with LOA_REPLY_PROVIDERS=smpp, leaves from the short code
    through the same bind."""
    import os
    import signal
    import subprocess
    import sys

    from workers import runtime

    env = dict(os.environ)
    env.update(
        LOA_ENV="test",
        LOA_DATABASE_URL=smpp_settings.effective_database_url,
        LOA_REDIS_URL=smpp_settings.redis_url,
        LOA_VAR_DIR=str(tmp_path / "var"),
        LOA_SECRET_KEY="test-secret-key-not-for-production",
        LOA_PROVIDER="smpp",
        LOA_SMPP_HOST=fake_smsc.host,
        LOA_SMPP_PORT=str(fake_smsc.port),
        LOA_SMPP_SYSTEM_ID=fake_smsc.system_id,
        LOA_SMPP_PASSWORD=fake_smsc.password,
        LOA_SMPP_SOURCE_ADDR="8079",
        LOA_TIP_ACK_TEXT="Loa: da nhan tin. Khan cap goi 113 hoac 111.",
    )
    loa = os.path.join(os.path.dirname(sys.executable), "loa")
    proc = subprocess.Popen(
        [loa, "smpp"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        eventually(lambda: [b for b in fake_smsc.binds() if b["open"]], timeout=30)
        fake_smsc.send_mo(CITIZEN, "Có người bị giữ ở tàu cá")
        (tip,) = eventually(lambda: tips(new_session))
        assert (tip.channel, tip.body) == ("smpp", "Có người bị giữ ở tàu cá")
        runtime.configure(smpp_settings.model_copy(update={"reply_providers": "smpp", "reply_sender": "8079", "tip_ack_text": env["LOA_TIP_ACK_TEXT"]}))  # fmt: skip
        rq_worker.run()  # the replies lane sends the acknowledgement through the bind
        (ack,) = eventually(lambda: fake_smsc.accepted())
        assert (ack["destination_addr"], ack["source_addr"], ack["text"]) == (
            CITIZEN, "8079", env["LOA_TIP_ACK_TEXT"],
        )  # fmt: skip
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err.decode()[-2000:]
    assert b"bound" in err and CITIZEN.encode() not in err  # state changes logged, no number
    assert eventually(lambda: not [b for b in fake_smsc.binds() if b["open"]])
