"""Admin pages of contacts, lists, imports and the suppression list (opt-outs).

Numbers are shown in full only to roles that manage the contact list (``contacts.edit``: the
information department and admins); everyone else sees them masked.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select

from campaigns import import_records, importing, optouts
from campaigns.models import Contact, ContactImport, ContactList, ListMember, OptOut
from campaigns.phones import mask, normalize
from campaigns.text import spreadsheet_safe
from gateway import audit, contact_imports, db
from gateway.admin import keyset_page
from gateway.auth import current, require
from gateway.labels import IMPORT_STATUS_LABELS, label
from gateway.roles import allowed
from gateway.web import register_nav

bp = Blueprint("contacts", __name__)
SEARCH_MAX = 100


def shows_full_numbers() -> bool:
    """Whether the current user may see full numbers (the information department and admins)."""
    user = current()
    return user is not None and allowed(user.role, "contacts.edit")


def shown_number(phone: str) -> str:
    """``phone`` in full for contact managers, masked for everyone else."""
    return phone if shows_full_numbers() else mask(phone)


def _search_filter(q: str, phone_col: Any, name_col: Any | None = None) -> Any:
    """Match the digits of ``q`` inside numbers (and ``q`` inside names, when given)."""
    digits = "".join(ch for ch in q if ch.isdigit())
    clauses = []
    if len(digits) >= 3:
        # "0912…" is stored as "+84912…": the trunk 0 is dropped to match E.164.
        clauses.append(phone_col.contains(digits.removeprefix("0")))
    if name_col is not None:
        clauses.append(name_col.ilike(f"%{q}%"))
    return or_(*clauses) if clauses else phone_col.contains(q)


@bp.get("/contacts")
@require("contacts.view")
def contacts_index() -> Any:
    """Contacts, newest first, searchable by number or name, optionally within one list, 50 a
    page (paged by id: a province's 1.2 million contacts are all reachable)."""
    s = db.session()
    q = request.args.get("q", "").strip()[:SEARCH_MAX]
    list_id = request.args.get("list", type=int)
    stmt, key, joined = select(Contact).order_by(Contact.id.desc()), Contact.id, None
    if q:
        stmt = stmt.where(_search_filter(q, Contact.phone, Contact.name))
    current_list = None
    if list_id:
        current_list = s.get(ContactList, list_id)
        if current_list is None:
            abort(404)
        # Ordered by the member's contact id (the same number): the list's index then gives
        # its members in order, where ordering by contacts.id sorted the whole list each page.
        key, joined = ListMember.contact_id, Contact.id
        stmt = (
            stmt.add_columns(key)
            .join(ListMember, key == Contact.id)
            .where(ListMember.list_id == list_id)
            .order_by(None)
            .order_by(key.desc())
        )
    rows, after, is_first = keyset_page(s, stmt, None, key, scalars=True, joined=joined)
    return render_template(
        "contacts/contact_list.html",
        contacts=rows,
        after=after,
        is_first=is_first,
        q=q,
        current_list=current_list,
        shown_number=shown_number,
    )


@bp.get("/lists")
@require("contacts.view")
def lists_index() -> Any:
    """Every contact list with its size."""
    s = db.session()
    size = func.count(ListMember.contact_id)
    rows = s.execute(
        select(ContactList, size)
        .outerjoin(ListMember, ListMember.list_id == ContactList.id)
        .group_by(ContactList.id)
        .order_by(ContactList.name)
    ).all()
    return render_template("contacts/list_list.html", lists=rows)


@bp.get("/optouts")
@require("optouts.edit")
def optouts_index() -> Any:
    """The suppression list, newest first, searchable by number, with the add and remove forms."""
    s = db.session()
    q = request.args.get("q", "").strip()[:SEARCH_MAX]
    stmt = select(OptOut).order_by(OptOut.id.desc())  # ids follow created_at (set on insert)
    if q:
        stmt = stmt.where(_search_filter(q, OptOut.phone))
    rows, after, is_first = keyset_page(s, stmt, None, OptOut.id, scalars=True)
    return render_template(
        "contacts/optout_list.html",
        optouts=rows,
        after=after,
        is_first=is_first,
        q=q,
        shown_number=shown_number,
        channel_labels=CHANNEL_LABELS,
    )


CHANNEL_LABELS = {
    optouts.SMS: _l("Tin nhắn"),
    optouts.HOTLINE: _l("Tổng đài"),
    optouts.WEB: _l("Trang web"),
    optouts.ADMIN: _l("Quản trị"),
    optouts.PROVIDER: _l("Nhà cung cấp"),
}


def _reason() -> str:
    return request.form.get("reason", "").strip()[:200]


@bp.post("/optouts")
@require("optouts.edit")
def optout_add() -> Any:
    """Add a number to the suppression list (channel ``admin``), with a reason; audited."""
    phone = request.form.get("phone", "").strip()[:64]
    reason = _reason()
    if not reason:
        flash(_("Hãy ghi lý do."), "error")
        return redirect(url_for(".optouts_index"))
    user = current()
    s = db.session()
    try:
        row = optouts.opt_out(s, phone, optouts.ADMIN, reason, by=user.id if user else None)
    except ValueError:
        flash(_("Số điện thoại không hợp lệ."), "error")
        return redirect(url_for(".optouts_index"))
    audit.record(
        "optout.add", object_type="opt_out", object_id=row.id, details={"phone": mask(row.phone)}
    )
    s.commit()
    flash(_("Đã thêm %(phone)s vào danh sách từ chối nhận tin.", phone=shown_number(row.phone)))
    return redirect(url_for(".optouts_index"))


@bp.post("/optouts/remove")
@require("optouts.edit")
def optout_remove() -> Any:
    """Take a number off the suppression list (the citizen asked again), with a reason; audited."""
    phone = request.form.get("phone", "").strip()[:64]
    reason = _reason()
    if not reason:
        flash(_("Hãy ghi lý do."), "error")
        return redirect(url_for(".optouts_index"))
    e164 = normalize(phone).e164
    s = db.session()
    if e164 is None or not optouts.opt_in(s, e164):
        flash(_("Số này không có trong danh sách từ chối nhận tin."), "error")
        return redirect(url_for(".optouts_index"))
    audit.record(
        "optout.remove", object_type="opt_out", details={"phone": mask(e164), "reason": reason}
    )
    s.commit()
    flash(_("Đã xoá %(phone)s khỏi danh sách từ chối nhận tin.", phone=shown_number(e164)))
    return redirect(url_for(".optouts_index"))


# --- import ---------------------------------------------------------------------------------

# Import results are a report about an uploaded file, kept in SQL (``contact_imports``) so any
# web copy can show them and serve the rejected rows, and a Redis flush loses nothing. The result
# page and its CSV need ``contacts.edit``, like the upload: rejected values are shown unmasked.
REJECT_REASONS: dict[str, Any] = {
    "empty": _l("trống"),
    "too_short": _l("thiếu chữ số"),
    "too_long": _l("thừa chữ số"),
    "not_a_number": _l("không phải số điện thoại"),
    "invalid_prefix": _l("đầu số không tồn tại"),
    "invalid_country_code": _l("mã quốc gia sai"),
    "landline": _l("số cố định (không nhận SMS)"),
    "not_mobile": _l("không phải số di động"),
    "short_code": _l("số ngắn / tổng đài"),
    "invalid": _l("không hợp lệ"),
    "unreadable": _l("dòng hỏng, không đọc được"),
    "bad_encoding": _l("lỗi bảng mã (chữ bị hỏng)"),
}


@bp.get("/contacts/import")
@require("contacts.edit")
def import_form() -> Any:
    """The upload form: a CSV or XLSX file and the list to add its contacts to."""
    lists = list(db.session().scalars(select(ContactList.name).order_by(ContactList.name)))
    return render_template("contacts/import_form.html", lists=lists, error=None)


@bp.post("/contacts/import")
@require("contacts.edit")
def import_upload() -> Any:
    """Import the uploaded file: a small one inside the request (its result at once), a large
    one in a worker (its page shows the progress)."""
    upload = request.files.get("file")
    list_name = request.form.get("list_name", "").strip()[:200]
    s = db.session()
    lists = list(s.scalars(select(ContactList.name).order_by(ContactList.name)))
    error = None
    if upload is None or not upload.filename:
        error = _("Hãy chọn một tệp CSV hoặc XLSX.")
    elif not list_name:
        error = _("Hãy đặt tên danh sách.")
    if error:
        return render_template("contacts/import_form.html", lists=lists, error=error), 400
    assert upload is not None
    user = current()
    assert user is not None
    if contact_imports.in_worker(upload):
        record = contact_imports.start(upload, list_name, user)
        return redirect(url_for(".import_result", token=record.token))
    try:
        record = contact_imports.run_now(upload, list_name, user)[1]
    except importing.ImportFailed as exc:
        return render_template("contacts/import_form.html", lists=lists, error=str(exc)), 400
    return redirect(url_for(".import_result", token=record.token))


def _stored_import(token: str) -> ContactImport:
    record = import_records.find_import(db.session(), token)
    if record is None:
        abort(404, description=_("Không tìm thấy kết quả nhập này."))
    return record


@bp.get("/contacts/imports/<token>")
@require("contacts.edit")
def import_result(token: str) -> Any:
    """What an import did: counts and every rejected row with its line, value and reason; while
    a worker imports it, its progress (the page follows it live)."""
    result = import_records.summary(_stored_import(token))
    return render_template(
        "contacts/import_result.html",
        result=result,
        token=token,
        reasons=REJECT_REASONS,
        status_label=label(IMPORT_STATUS_LABELS, result["status"]),
    )


@bp.get("/contacts/imports/<token>/progress.json")
@require("contacts.edit")
def import_progress(token: str) -> Any:
    """An import's state and counts so far, for its page to follow without reloading."""
    result = import_records.summary(_stored_import(token))
    keys = ("status", "percent", "rows", "added", "updated", "duplicates", "rejected_count")
    body = {k: result.get(k) for k in keys}
    body["status_label"] = label(IMPORT_STATUS_LABELS, result["status"])
    return jsonify(body)


@bp.get("/contacts/imports/<token>/rejected.csv")
@require("contacts.edit")
def import_rejects(token: str) -> Any:
    """The rejected rows of an import as CSV (line, value, reason, lý do); audited."""
    record = _stored_import(token)
    out = io.StringIO()
    out.write("\ufeff")  # Excel reads UTF-8 with a BOM
    writer = csv.writer(out)
    for i, row in enumerate(csv.reader(io.StringIO(record.rejected_csv))):
        label = _("lý do") if i == 0 else str(REJECT_REASONS.get(row[2], row[2]))
        writer.writerow([spreadsheet_safe(c) for c in ([*row, label] if len(row) == 3 else row)])
    audit.record(
        "contacts.rejects_download",
        object_type="contact_list",
        object_id=record.list_id,
        details={"result": token},
    )
    db.session().commit()
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="rejected-{token[:8]}.csv"',
            "Cache-Control": "no-store",
        },
    )


def init_app(app: Flask) -> None:
    """Register the pages and their menu entries."""
    app.register_blueprint(bp)
    register_nav(app, "contacts.contacts_index", _l("Danh bạ"), "contacts.view")
    register_nav(app, "contacts.lists_index", _l("Danh sách"), "contacts.view")
    register_nav(app, "contacts.optouts_index", _l("Từ chối nhận tin"), "optouts.edit")
