"""Routing rules admin: read (``rules.view``), create and edit as new versions, activate and
deactivate (``rules.edit``, admins), and a test bench that shows where a text would go.

The rules themselves, their versions and the matching live in ``gateway.tips.routing``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from campaigns.models import Area
from gateway import audit, db
from gateway.admin import known_queues, register_helpers
from gateway.auth import current, require
from gateway.labels import PRIORITY_LABELS
from gateway.tips import corpus, routing
from gateway.tips.models import RoutingRule
from gateway.tips.states import PRIORITIES
from gateway.web import register_nav

bp = Blueprint("rules", __name__, url_prefix="/rules")

KIND_LABELS = {
    "keyword": _l("Từ khoá → hàng đợi"),
    "district": _l("Tên huyện, thị xã → Công an huyện"),
    "urgency": _l("Từ khẩn cấp → mức ưu tiên"),
}
MAX_BENCH_TEXT = 5000


def _latest_versions(s: Session) -> list[RoutingRule]:
    """The newest version of every rule, in precedence order."""
    newest = (
        select(RoutingRule.name, func.max(RoutingRule.version).label("v"))
        .group_by(RoutingRule.name)
        .subquery()
    )
    return list(
        s.scalars(
            select(RoutingRule)
            .join(
                newest,
                (RoutingRule.name == newest.c.name) & (RoutingRule.version == newest.c.v),
            )
            .order_by(RoutingRule.rank, RoutingRule.name)
        )
    )


def _rule_or_404(rule_id: int) -> RoutingRule:
    rule = db.session().get(RoutingRule, rule_id)
    if rule is None:
        abort(404)
    return rule


def _labels() -> dict[str, Any]:
    return {"kind_labels": KIND_LABELS, "priority_labels": PRIORITY_LABELS}


@bp.get("/")
@require("rules.view")
def rule_list() -> Any:
    """Every rule (its newest version), active or not, in the order they are applied."""
    s = db.session()
    return render_template("rules/rule_list.html", rules=_latest_versions(s), **_labels())


@bp.get("/<int:rule_id>")
@require("rules.view")
def rule_detail(rule_id: int) -> Any:
    """A rule with every version it has had, newest first."""
    rule = _rule_or_404(rule_id)
    versions = db.session().scalars(
        select(RoutingRule)
        .where(RoutingRule.name == rule.name)
        .order_by(RoutingRule.version.desc())
    )
    return render_template("rules/rule_detail.html", rule=rule, versions=versions, **_labels())


def _parse_form(queues: list[str], kind: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The rule fields from the form, and the errors (by field) that keep it from being saved."""
    errors: dict[str, str] = {}
    phrases = [line.strip() for line in request.form.get("phrases", "").splitlines()]
    phrases = [p for p in phrases if p][:500]
    exclusions = [line.strip() for line in request.form.get("exclusions", "").splitlines()]
    exclusions = [p for p in exclusions if p][:500]
    queue = request.form.get("queue", "") or None
    priority = request.form.get("priority", "") or None
    rank_text = request.form.get("rank", "100").strip()
    if queue is not None and queue not in queues:
        errors["queue"] = _("Hàng đợi không tồn tại.")
    if priority is not None and priority not in PRIORITIES:
        errors["priority"] = _("Mức ưu tiên không hợp lệ.")
    if not rank_text.isdigit() or int(rank_text) > 10_000:
        errors["rank"] = _("Thứ tự là số nguyên từ 0 đến 10000.")
    if kind != "district" and not phrases:
        errors["phrases"] = _("Cần ít nhất một cụm từ.")
    if kind == "keyword" and queue is None and priority is None:
        errors["queue"] = _("Quy tắc từ khoá cần một hàng đợi hoặc một mức ưu tiên.")
    if kind == "district" and queue is not None:
        errors["queue"] = _("Quy tắc huyện dùng hàng đợi của từng huyện, không chọn hàng đợi.")
    fields = {
        "phrases": phrases,
        "exclusions": exclusions,
        "queue": queue,
        "priority": priority,
        "share": request.form.get("share") == "1",
        "rank": int(rank_text) if rank_text.isdigit() else 100,
    }
    return fields, errors


def _form_page(
    rule: RoutingRule | None,
    errors: dict[str, str],
    queues: list[str],
    check: CorpusCheck | None = None,
) -> Any:
    form = request.form if request.method == "POST" else None
    return render_template(
        "rules/rule_form.html",
        rule=rule,
        form=form,
        errors=errors,
        queues=queues,
        kinds=routing.KINDS,
        priorities=PRIORITIES,
        check=check,
        **_labels(),
    ), (422 if errors or (check and check.worse) else 200)


@dataclass(frozen=True)
class CorpusCheck:
    """The labelled corpus routed by the rules as they are and as they would be."""

    before: corpus.Scores
    after: corpus.Scores

    @property
    def worse(self) -> bool:
        return (not self.after.good_enough) and (
            self.after.queue_accuracy < self.before.queue_accuracy
            or self.after.urgent_recall < self.before.urgent_recall
        )


def _check_corpus(name: str, kind: str, fields: dict[str, Any]) -> CorpusCheck | None:
    """Route the corpus with the active rules, then with this rule edited (nothing saved)."""
    examples = corpus.load()
    if not examples:
        return None
    s = db.session()
    rules = routing.active_rules(s)
    areas = list(s.scalars(select(Area)))
    edited = RoutingRule(name=name, kind=kind, version=0, id=None, active=True, **fields)
    after = [r for r in rules if r.name != name] + ([edited] if fields.get("active", True) else [])
    return CorpusCheck(
        before=corpus.evaluate(rules, areas, examples),
        after=corpus.evaluate(after, areas, examples),
    )


@bp.route("/new", methods=["GET", "POST"])
@require("rules.edit")
def rule_create() -> Any:
    """Create version 1 of a new rule."""
    s = db.session()
    queues = known_queues(s)
    errors: dict[str, str] = {}
    if request.method == "POST":
        kind = request.form.get("kind", "")
        if kind not in routing.KINDS:
            errors["kind"] = _("Loại quy tắc không hợp lệ.")
        fields, field_errors = _parse_form(queues, kind)
        errors.update(field_errors)
        if not errors:
            user = current()
            try:
                rule = routing.create_rule(
                    s,
                    name=request.form.get("name", ""),
                    kind=kind,
                    by=user.id if user else None,
                    **fields,
                )
            except ValueError:
                errors["name"] = _("Tên trống hoặc đã có quy tắc cùng tên.")
            else:
                audit.record("rule.create", object_type="rule", object_id=rule.id)
                s.commit()
                flash(_("Đã tạo quy tắc."), "success")
                return redirect(url_for("rules.rule_detail", rule_id=rule.id)), 303
    return _form_page(None, errors, queues)


@bp.route("/<int:rule_id>/edit", methods=["GET", "POST"])
@require("rules.edit")
def rule_edit(rule_id: int) -> Any:
    """Edit a rule: saving adds a new version (the old one stays, inactive, for the record)."""
    rule = _rule_or_404(rule_id)
    s = db.session()
    queues = known_queues(s)
    errors: dict[str, str] = {}
    if request.method == "POST":
        fields, errors = _parse_form(queues, rule.kind)
        check = None if errors else _check_corpus(rule.name, rule.kind, fields)
        if check is not None and check.worse and request.form.get("confirm_worse") != "1":
            return _form_page(rule, errors, queues, check)
        if not errors:
            user = current()
            new = routing.edit_rule(s, rule, by=user.id if user else None, active=True, **fields)
            audit.record(
                "rule.edit",
                object_type="rule",
                object_id=new.id,
                details={"name": new.name, "version": new.version},
            )
            s.commit()
            if check is not None:
                flash(
                    _(
                        "Bộ tin mẫu: đúng hàng đợi %(q)s%%, không bỏ sót tin khẩn %(u)s%%.",
                        q=round(check.after.queue_accuracy * 100, 1),
                        u=round(check.after.urgent_recall * 100, 1),
                    ),
                    "info",
                )
            flash(_("Đã lưu phiên bản %(v)s.", v=new.version), "success")
            return redirect(url_for("rules.rule_detail", rule_id=new.id)), 303
    return _form_page(rule, errors, queues)


def _set_active(rule_id: int, active: bool) -> Any:
    rule = _rule_or_404(rule_id)
    s = db.session()
    user = current()
    new = routing.edit_rule(s, rule, by=user.id if user else None, active=active)
    audit.record(
        "rule.activate" if active else "rule.deactivate",
        object_type="rule",
        object_id=new.id,
        details={"name": new.name, "version": new.version},
    )
    s.commit()
    flash(_("Đã bật quy tắc.") if active else _("Đã tắt quy tắc."), "success")
    return redirect(url_for("rules.rule_list")), 303


@bp.post("/<int:rule_id>/activate")
@require("rules.edit")
def rule_activate(rule_id: int) -> Any:
    """Turn a rule on (as a new version, so the history shows when)."""
    return _set_active(rule_id, True)


@bp.post("/<int:rule_id>/deactivate")
@require("rules.edit")
def rule_deactivate(rule_id: int) -> Any:
    """Turn a rule off (as a new version, so the history shows when)."""
    return _set_active(rule_id, False)


@bp.route("/test", methods=["GET", "POST"])
@require("rules.view")
def rule_test() -> Any:
    """The test bench: where would this text go? Nothing is stored (POST keeps it out of URLs)."""
    text = request.form.get("text", "") if request.method == "POST" else ""
    if len(text) > MAX_BENCH_TEXT:
        abort(413)
    result = routing.route_tip_text(db.session(), text) if text.strip() else None
    return render_template("rules/rule_test.html", text=text, result=result, **_labels())


def init_app(app: Flask) -> None:
    register_helpers(app)
    app.register_blueprint(bp)
    register_nav(app, "rules.rule_list", _l("Quy tắc định tuyến"), "rules.view")
