"""A citizen's phone at a high rate: signed Twilio inbound webhooks posted from many threads,
with Twilio's retries (the same MessageSid again); remembers which got a 2xx."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import requests
from twilio.request_validator import RequestValidator

from tests.factories import mobile
from tests.faults.witness import Witness

PATH = "/webhooks/twilio/sms"
BODIES = (
    "Co nguoi la du do tre em di lam o xa, nho cong an kiem tra",
    "Khẩn cấp: có người bị nhốt trên ghe ở cửa biển Trần Đề",
    "Toi thay mot nhom nguoi tuyen lao dong sang Campuchia, luong rat cao",
)


@dataclass
class Storm:
    """What the webhooks answered: the acknowledged message ids and every status seen."""

    acked: set[str] = field(default_factory=set)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    retry_after: set[str] = field(default_factory=set)  # the Retry-After of each 503
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def note(
        self, sid: str, status: int | None, error: str | None = None, retry_after: str = ""
    ) -> None:
        with self._lock:
            if status == 503:
                self.retry_after.add(retry_after)
            if status is not None:
                self.statuses[status] += 1
                if 200 <= status < 300:
                    self.acked.add(sid)
            if error:
                self.errors[error] += 1


def message(n: int, seed: int) -> dict[str, str]:
    """The n-th inbound SMS (its own sender and id); the same ``n`` is a retry of it."""
    return {
        "MessageSid": f"SM{seed:08d}{n:022d}",
        "AccountSid": Witness.account_sid,
        "From": mobile(5_000_000 + n),
        "To": "+14155550100",
        "Body": BODIES[n % len(BODIES)],
        "NumSegments": "1",
    }


def post_all(
    urls: list[str], numbers: list[int], seed: int, public_base: str, threads: int = 8
) -> Storm:
    """Post inbound SMS ``numbers`` (repeats are retries), spread over ``urls``, signed for
    ``public_base``; returns what they answered."""
    storm = Storm()
    validator = RequestValidator(Witness.auth_token)
    local = threading.local()

    def one(i: int) -> None:
        if not hasattr(local, "http"):
            local.http = requests.Session()
        params = message(numbers[i], seed)
        signature = validator.compute_signature(public_base + PATH, params)
        try:
            resp = local.http.post(
                urls[i % len(urls)] + PATH,
                data=params,
                headers={"X-Twilio-Signature": signature},
                timeout=60,
            )
        except requests.RequestException as exc:
            storm.note(params["MessageSid"], None, type(exc).__name__)
            return
        storm.note(
            params["MessageSid"], resp.status_code, retry_after=resp.headers.get("Retry-After", "")
        )

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, range(len(numbers))))
    return storm
