"""Provider webhooks: delivery receipts and inbound SMS, each checked against its signature.

Every request is authenticated by the provider's signature over the public URL it called
(``settings.public_base_url`` + path and query, since a proxy may rewrite the host): a forged
request gets 403 and changes nothing (invariant 5). A receipt is applied and committed before
the answer (duplicates and out-of-order receipts are harmless: statuses only move forward); an
inbound SMS becomes a tip, committed before the 2xx (invariant 4).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, request
from werkzeug.datastructures import MultiDict

from campaigns.db import one_writer
from gateway import db
from gateway.providers import Provider, StatusUpdate, WebhookError, get_provider
from gateway.providers.aggregator import AggregatorProvider
from gateway.providers.aggregator_profile import ProfileError
from gateway.providers.aggregator_webhooks import INBOUND, RECEIPT
from gateway.security import csrf
from gateway.tips.intake import receive_inbound

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")


def provider(name: str) -> Provider:
    """The app's instance of provider ``name`` (built once per app)."""
    cache: dict[str, Provider] = current_app.extensions.setdefault("loa.webhook_providers", {})
    if name not in cache:
        cache[name] = get_provider(current_app.config["LOA_SETTINGS"], name)
    return cache[name]


def public_url() -> str:
    """The URL the provider called: the configured public base, this path and query."""
    base: str = current_app.config["LOA_SETTINGS"].public_base_url
    return base + request.full_path.rstrip("?")


def _authentic(p: Provider) -> MultiDict[str, str]:
    """The request's form, once its signature is proven; 403 otherwise."""
    form = request.form  # reading it enforces MAX_CONTENT_LENGTH (413)
    if not p.validate_signature(public_url(), form, dict(request.headers.items())):
        abort(403, description="bad signature")
    return form


def _receipt(name: str, delivery_id: int) -> Any:
    p = provider(name)
    form = _authentic(p)
    try:
        update = p.parse_status(form.to_dict(), delivery_id)
    except WebhookError as exc:
        abort(400, description=str(exc))
    return _applied(update)


def _applied(update: StatusUpdate) -> Response:
    """Apply a receipt and commit it before answering 204 (one SQLite writer per process)."""
    s = db.session()
    with one_writer(s):
        update.apply(s)
        s.commit()
    return Response(status=204)


@bp.post("/twilio/status/<int:delivery_id>")
def twilio_status(delivery_id: int) -> Any:
    """A Twilio status callback for Loa's delivery ``delivery_id``."""
    return _receipt("twilio", delivery_id)


@bp.post("/simulator/status/<int:delivery_id>")
def simulator_status(delivery_id: int) -> Any:
    """A simulator receipt (signed with ``X-Loa-Signature``) for delivery ``delivery_id``."""
    return _receipt("simulator", delivery_id)


@bp.post("/twilio/sms")
def twilio_sms() -> Any:
    """An SMS from a citizen through Twilio: stored as a tip, answered with TwiML."""
    p = provider("twilio")
    form = _authentic(p)
    try:
        inbound = p.parse_inbound(form.to_dict())
    except WebhookError as exc:
        abort(400, description=str(exc))
    text = receive_inbound(db.session(), db.tipline(), inbound)
    body, content_type = p.inbound_reply(text)
    return Response(body, status=200, content_type=content_type)


def _aggregator(kind: str) -> tuple[AggregatorProvider, dict[str, str]]:
    """The aggregator provider and this request's params, once its authenticity is proven.

    403 for a request that fails the profile's authentication or the IP allowlist, 400 for a
    malformed one, 405 for a method the profile does not use, 404 when no profile is configured.
    """
    try:
        p = provider("http")
    except (ProfileError, LookupError):
        abort(404, description="no aggregator profile is configured (LOA_HTTP_PROFILE)")
    assert isinstance(p, AggregatorProvider)
    spec = p.profile.receipts if kind == RECEIPT else p.profile.inbound
    if request.method not in ("POST", spec.method):
        abort(405)
    body = request.get_data()  # bounded by MAX_CONTENT_LENGTH (413)
    try:
        params: dict[str, str] | None = p.read_params(
            kind, request.args.to_dict(), request.form.to_dict(), body
        )
    except WebhookError:
        params = None
    headers = dict(request.headers.items())
    if not p.authenticate(kind, public_url(), params or {}, headers, body, request.remote_addr):
        abort(403, description="bad signature")
    if params is None:
        abort(400, description="the body is not a JSON object")
    return p, params


@bp.route("/http/status/<int:delivery_id>", methods=["GET", "POST"])
@bp.route("/http/status/<int:delivery_id>/<token>", methods=["GET", "POST"])
def http_status(delivery_id: int, token: str | None = None) -> Any:
    """An aggregator's delivery receipt for Loa's delivery ``delivery_id`` (the token, when the
    profile uses one, is checked by :meth:`AggregatorProvider.authenticate`)."""
    p, params = _aggregator(RECEIPT)
    try:
        update = p.parse_status(params, delivery_id)
    except WebhookError as exc:
        abort(400, description=str(exc))
    return _applied(update)


@bp.route("/http/mo", methods=["GET", "POST"])
def http_mo() -> Any:
    """An SMS from a citizen pushed by the aggregator: stored as a tip (once per aggregator
    message id) and committed before the answer; the acknowledgement goes out on the replies
    lane, not in this answer."""
    p, params = _aggregator(INBOUND)
    try:
        inbound = p.parse_inbound(params)
    except WebhookError as exc:
        abort(400, description=str(exc))
    receive_inbound(db.session(), db.tipline(), inbound, inline_reply=False)
    body, content_type = p.inbound_answer(inbound)
    return Response(body, status=200, content_type=content_type)


def init_app(app: Flask) -> None:
    """Register the webhooks, exempt from CSRF (they are authenticated by signature)."""
    csrf.exempt(bp)
    app.register_blueprint(bp)
