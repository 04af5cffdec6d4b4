"""Areas admin (admins only): list and search the places, edit an area's aliases and police
queue. Loading whole presets or files is ``loa areas load``; every edit here is audited."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from campaigns.areas import area_key, edit_area
from campaigns.models import Area
from gateway import audit, db, labels
from gateway.admin import PER_PAGE, page_number
from gateway.auth import require
from gateway.web import register_nav

bp = Blueprint("areas", __name__, url_prefix="/areas")


@bp.get("/")
@require("areas.manage")
def area_list() -> Any:
    """Every area, parents first; ``q`` searches names and aliases ignoring case and marks."""
    s = db.session()
    q = request.args.get("q", "").strip()[:100]
    areas = list(s.scalars(select(Area).order_by(Area.parent_id.is_not(None), Area.name)))
    names = {a.id: a.name for a in areas}
    if q:
        needle = area_key(q)
        areas = [a for a in areas if any(needle in area_key(n) for n in (a.name, *a.aliases))]
    page = page_number()
    shown = areas[(page - 1) * PER_PAGE : page * PER_PAGE]
    return render_template(
        "areas/area_list.html",
        area_kind_labels=labels.AREA_KIND_LABELS,
        areas=shown,
        parents=names,
        q=q,
        total=len(areas),
        page=page,
        has_next=len(areas) > page * PER_PAGE,
    )


def _area_or_404(area_id: int) -> Area:
    area = db.session().get(Area, area_id)
    if area is None:
        abort(404)
    return area


@bp.route("/<int:area_id>/edit", methods=["GET", "POST"])
@require("areas.manage")
def area_edit(area_id: int) -> Any:
    """Edit the aliases (one per line) and the police queue; a bad value is a 400 with why."""
    area = _area_or_404(area_id)
    if request.method == "GET":
        return render_template("areas/area_form.html", area=area, aliases="\n".join(area.aliases))
    aliases = request.form.get("aliases", "")[:20_000].splitlines()
    queue = request.form.get("police_queue", "").strip()
    before = {"aliases": list(area.aliases), "police_queue": area.police_queue}
    s = db.session()
    problems = edit_area(s, area, aliases, queue)
    if problems:
        s.rollback()
        for kind, value, other in problems:
            if kind == "queue":
                flash(
                    _(
                        "Hàng đợi công an “%(queue)s” không hợp lệ: dùng police_ + chữ thường không dấu, số và _.",
                        queue=value,
                    ),
                    "error",
                )
            else:
                flash(
                    _("Bí danh “%(alias)s” đã dùng cho %(other)s.", alias=value, other=other),
                    "error",
                )
        page = render_template("areas/area_form.html", area=area, aliases="\n".join(aliases))
        return page, 400
    after = {"aliases": list(area.aliases), "police_queue": area.police_queue}
    audit.record(
        "area.edit",
        object_type="area",
        object_id=area.id,
        details={"before": before, "after": after},
    )
    s.commit()
    flash(_("Đã lưu địa bàn %(name)s.", name=area.name), "success")
    return redirect(url_for("areas.area_list", q=area.name), code=303)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    register_nav(app, "areas.area_list", _l("Địa bàn"), "areas.manage")
