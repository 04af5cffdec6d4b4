"""The baseline of the ``inbound`` and ``callbacks`` benchmarks: a bare Flask app that parses a
Twilio form and answers TwiML (or 204 for a status callback) without checking or storing it.

Run as gunicorn ``bench.bare_webhook:app`` with the flags of ``make run``.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, request
from twilio.twiml.messaging_response import MessagingResponse

app = Flask("bare")


@app.post("/webhooks/twilio/sms")
def sms() -> Any:
    form = request.form.to_dict()
    reply = MessagingResponse()
    reply.message(f"Đã nhận ({len(form.get('Body', ''))}). Gọi 111 hoặc 113 khi khẩn cấp.")
    return Response(str(reply), content_type="text/xml")


@app.post("/webhooks/twilio/status/<int:delivery_id>")
def status(delivery_id: int) -> Any:
    request.form.to_dict()
    return Response(status=204)
