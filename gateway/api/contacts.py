"""Contacts over /api/v1: import a file into a list, list the lists, preview an audience, opt-outs.

``POST /contacts/import`` answers with the counts and the first rejected rows inline (at most
``campaigns.importing.INLINE_REJECTS``); every rejected row is also kept in SQL with the import's
record (``campaigns.import_records``, shared with the admin pages), which ``rejected_download``
points to by its random token. Only roles that edit contacts may download it (rejected values
are shown unmasked, as on the admin page); the download is audited. A file up to
``LOA_IMPORT_ASYNC_BYTES`` imports inside the request (200 with the counts); a larger one, or any
when the client sends ``Prefer: respond-async`` (RFC 7240), is imported by a worker: 202 with a
``Location`` (``GET /contacts/imports/{token}``) that shows its progress and, once done, the same
counts. A file larger than ``LOA_MAX_REQUEST_BYTES`` is refused with 413 before it is read.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request, url_for
from sqlalchemy import func, select

from campaigns import audiences, import_records, optouts
from campaigns.importing import ImportFailed
from campaigns.models import ContactImport, ContactList, ListMember
from campaigns.phones import mask
from campaigns.text import spreadsheet_safe_csv
from gateway import audit, contact_imports, db
from gateway.api import bp, document, error, schema
from gateway.auth import current, require

_IMPORT_RESULT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "list": {"type": "object"},
        "rows": {"type": "integer"},
        "added": {"type": "integer"},
        "updated": {"type": "integer", "description": "numbers Loa already knew"},
        "duplicates": {"type": "integer", "description": "repeats inside the file"},
        "already_in_list": {"type": "integer"},
        "opted_out": {"type": "integer"},
        "rejected": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "line": {"type": "integer"},
                    "value": {"type": "string"},
                    "reason": {"type": "string"},
                },
            },
        },
        "rejected_count": {"type": "integer"},
        "rejected_truncated": {"type": "boolean"},
        "rejected_download": {"type": ["string", "null"]},
        "unknown_areas": {"type": "object"},
    },
    "required": ["added", "updated", "duplicates", "opted_out", "rejected"],
}
ImportResultSchema = schema("ImportResult", _IMPORT_RESULT)


ImportStatusSchema = schema(
    "ImportStatus",
    {
        "type": "object",
        "description": "an import in a worker: the counts so far, all of them once `done`",
        "properties": {
            **_IMPORT_RESULT["properties"],
            "token": {"type": "string"},
            "status": {"type": "string", "enum": list(import_records.STATUSES)},
            "percent": {
                "type": ["integer", "null"],
                "description": "share of the file read (null: unknown, as for XLSX)",
            },
            "error": {"type": "string", "description": "why a failed import failed"},
            "filename": {"type": "string"},
        },
        "required": ["token", "status"],
    },
)


@bp.post("/contacts/import")
@require("contacts.edit", api=True)
def import_file() -> Any:
    """Import a CSV/XLSX upload (``file``) into the list named ``list``: at once (200 with the
    counts), or in a worker (202 with a ``Location`` to poll) for a large file or when asked."""
    user = current()
    assert user is not None
    upload = request.files.get("file")
    list_name = (request.form.get("list") or "").strip()
    if upload is None or not upload.filename:
        return error(422, "Thiếu tệp (trường 'file').")
    if not list_name:
        return error(422, "Thiếu tên danh sách (trường 'list').")
    if len(list_name) > 200:
        return error(422, "Tên danh sách dài quá 200 ký tự.")
    prefer = request.headers.get("Prefer")
    if contact_imports.in_worker(upload, prefer):
        record = contact_imports.start(upload, list_name, user)
        location = url_for("api.import_status", token=record.token)
        response = jsonify(_status_body(record))
        response.status_code = 202
        response.headers["Location"] = location
        if prefer and "respond-async" in prefer.lower():
            response.headers["Preference-Applied"] = "respond-async"
        return response
    try:
        result, record = contact_imports.run_now(upload, list_name, user)
    except ImportFailed as exc:
        return error(422, str(exc))
    body = result.as_dict()
    body["rejected_download"] = (
        url_for("api.rejected_rows", token=record.token) if result.rejected_count else None
    )
    return jsonify(body)


def _status_body(record: ContactImport) -> dict[str, Any]:
    """An import as ``GET /contacts/imports/{token}`` shows it."""
    summary = import_records.summary(record)
    summary.pop("rejects_complete", None)
    summary.pop("bytes_read", None)
    summary.pop("attempts", None)
    summary["token"] = record.token
    summary["rejected_download"] = (
        url_for("api.rejected_rows", token=record.token)
        if record.status == import_records.DONE and summary.get("rejected_count")
        else None
    )
    if record.status == import_records.DONE:
        summary["rejected_truncated"] = summary.get("rejected_count", 0) > len(summary["rejected"])
    return summary


@bp.get("/contacts/imports/<token>")
@require("contacts.edit", api=True)
def import_status(token: str) -> Any:
    """An import's state; once done, its counts as ``POST /contacts/import`` answers them."""
    record = import_records.find_import(db.session(), token)
    if record is None:
        return error(404, "Không có lần nhập này.")
    return jsonify(_status_body(record))


document(
    "/contacts/import",
    "post",
    {
        "summary": "Import contacts from a CSV or XLSX file into a list",
        "description": (
            "CSV in UTF-8 (with or without BOM), UTF-16 with BOM, or Windows-1258/1252; "
            "separator `,` `;` or tab; Vietnamese or English headers (phone / số điện thoại / "
            "sđt, name / họ tên, district / huyện / quận, ward / xã / phường, tags). "
            "`updated` counts numbers Loa already knew, `duplicates` repeats inside the file. "
            "At most 1,000 rejected rows are inline; `rejected_download` has them all.\n\n"
            "A file up to `LOA_IMPORT_ASYNC_BYTES` (default 1 MiB) imports inside the request "
            "and the answer is `200` with the counts. A larger file, or any file sent with "
            "`Prefer: respond-async`, is imported by a worker: the answer is `202 Accepted` "
            "with a `Location` header; poll it (`GET /contacts/imports/{token}`) until "
            "`status` is `done` (the same counts as the `200`) or `failed` (`error` says why)."
        ),
        "parameters": [
            {
                "name": "Prefer",
                "in": "header",
                "required": False,
                "description": "`respond-async`: import in a worker and answer 202 at once",
                "schema": {"type": "string"},
            }
        ],
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "file": {"type": "string", "format": "binary"},
                            "list": {"type": "string"},
                        },
                        "required": ["file", "list"],
                    }
                }
            },
        },
        "responses": {
            "200": {
                "description": "the counts",
                "content": {"application/json": {"schema": ImportResultSchema}},
            },
            "202": {
                "description": "stored; a worker imports it (poll `Location`)",
                "headers": {
                    "Location": {
                        "description": "the import's status: /api/v1/contacts/imports/{token}",
                        "schema": {"type": "string"},
                    },
                    "Preference-Applied": {
                        "description": "`respond-async` when the client asked for it",
                        "schema": {"type": "string"},
                    },
                },
                "content": {"application/json": {"schema": ImportStatusSchema}},
            },
            "403": {"description": "role may not edit contacts"},
            "413": {"description": "file larger than LOA_MAX_REQUEST_BYTES"},
            "422": {"description": "no file, no list name, or unreadable / no phone column"},
        },
    },
)


document(
    "/contacts/imports/{token}",
    "get",
    {
        "summary": "The state of an import; once done, its counts",
        "description": (
            "`status`: `queued` (waiting for a worker), `running` (the counts so far; "
            "`percent` of the file read, null for XLSX), `done` (the counts as `POST "
            "/contacts/import` answers them) or `failed` (`error` says why)."
        ),
        "parameters": [
            {"name": "token", "in": "path", "required": True, "schema": {"type": "string"}}
        ],
        "responses": {
            "200": {
                "description": "the import",
                "content": {"application/json": {"schema": ImportStatusSchema}},
            },
            "403": {"description": "role may not edit contacts"},
            "404": {"description": "no import with this token"},
        },
    },
)


@bp.get("/contacts/imports/<token>/rejected.csv")
@require("contacts.edit", api=True)  # rejected values are unmasked: the admin page's rule
def rejected_rows(token: str) -> Any:
    """Every rejected row of an import, as CSV (line, value, reason); audited."""
    s = db.session()
    record = import_records.find_import(s, token)
    if record is None:
        return error(404, "Không có tệp này.")
    audit.record(
        "contacts.rejects_download",
        actor=current(),
        object_type="contact_list",
        object_id=record.list_id,
        details={"result": token},
    )
    s.commit()
    return Response(
        "\ufeff" + spreadsheet_safe_csv(record.rejected_csv),  # UTF-8 with a BOM, for Excel
        mimetype="text/csv",
        headers={
            "Content-Disposition": 'attachment; filename="rejected.csv"',
            "Cache-Control": "no-store",
        },
    )


document(
    "/contacts/imports/{token}/rejected.csv",
    "get",
    {
        "summary": "Download every rejected row of an import",
        "parameters": [
            {"name": "token", "in": "path", "required": True, "schema": {"type": "string"}}
        ],
        "responses": {"200": {"description": "CSV"}, "404": {"description": "unknown"}},
    },
)


@bp.get("/lists")
@require("contacts.view", api=True)
def list_lists() -> Any:
    """Every contact list with its size."""
    s = db.session()
    sizes: dict[int, int] = {
        list_id: int(n)
        for list_id, n in s.execute(
            select(ListMember.list_id, func.count()).group_by(ListMember.list_id)
        )
    }
    items = [
        {
            "id": lst.id,
            "name": lst.name,
            "description": lst.description,
            "size": int(sizes.get(lst.id, 0)),
            "created_at": lst.created_at.isoformat(),
        }
        for lst in s.scalars(select(ContactList).order_by(ContactList.name))
    ]
    return jsonify(items=items)


document(
    "/lists",
    "get",
    {
        "summary": "Contact lists with their sizes",
        "responses": {"200": {"description": "{items: [{id, name, description, size}]}"}},
    },
)


@bp.post("/audiences/preview")
@require("contacts.view", api=True)
def audience_preview() -> Any:
    """Size of an audience spec by district and carrier."""
    spec = request.get_json(silent=True)
    if not isinstance(spec, dict):
        return error(422, "Cần một object JSON: {lists, districts, wards, tags}.")
    try:
        return jsonify(audiences.preview(db.session(), spec))
    except audiences.AudienceError as exc:
        return error(422, str(exc))


document(
    "/audiences/preview",
    "post",
    {
        "summary": "Preview an audience: total, opted out, by district, by carrier",
        "description": "Lists are OR'ed; districts/wards (OR'ed together) and tags are AND'ed.",
        "requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}},
        "responses": {
            "200": {"description": "{total, opted_out, sendable, by_district, by_carrier}"},
            "422": {"description": "unknown list or area"},
        },
    },
)


def _opt_out_json(row: Any) -> dict[str, Any]:
    return {
        "phone": mask(row.phone),
        "channel": row.channel,
        "reason": row.reason,
        "created_at": row.created_at.isoformat() if row.created_at else None,
    }


@bp.post("/optouts")
@require("optouts.edit", api=True)
def add_optout() -> Any:
    """Put a number on the suppression list (``{"phone", "channel"?, "reason"?}``)."""
    user = current()
    assert user is not None
    data = request.get_json(silent=True)
    if not isinstance(data, dict) or not isinstance(data.get("phone"), str):
        return error(422, 'Cần {"phone": "…"}.')
    channel = data.get("channel", optouts.ADMIN)
    reason = data.get("reason", "")
    if channel not in optouts.CHANNELS:
        return error(422, f"channel phải là một trong: {', '.join(optouts.CHANNELS)}.")
    if not isinstance(reason, str):
        return error(422, "reason phải là chuỗi.")
    s = db.session()
    try:
        row = optouts.opt_out(s, data["phone"], channel, reason, by=user.id)
    except ValueError:
        return error(422, "Số điện thoại không hợp lệ.")
    s.flush()
    audit.record(
        "optout.add",
        actor=user,
        object_type="opt_out",
        object_id=row.id,
        details={"phone": mask(row.phone), "channel": channel},
    )
    s.commit()
    return jsonify(_opt_out_json(row)), 201


@bp.delete("/optouts")
@require("optouts.edit", api=True)
def remove_optout() -> Any:
    """Take a number off the suppression list (the citizen asked to receive again)."""
    user = current()
    data = request.get_json(silent=True)
    if not isinstance(data, dict) or not isinstance(data.get("phone"), str):
        return error(422, 'Cần {"phone": "…"}.')
    s = db.session()
    removed = optouts.opt_in(s, data["phone"])
    if not removed:
        return error(404, "Số này không có trong danh sách từ chối.")
    e164 = optouts.canonical(data["phone"]) or ""
    audit.record("optout.remove", actor=user, object_type="opt_out", details={"phone": mask(e164)})
    s.commit()
    return "", 204


_OPTOUT_BODY = {
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {
                    "phone": {"type": "string"},
                    "channel": {"type": "string", "enum": list(optouts.CHANNELS)},
                    "reason": {"type": "string"},
                },
                "required": ["phone"],
            }
        }
    }
}
document(
    "/optouts",
    "post",
    {
        "summary": "Opt a number out of every broadcast",
        "requestBody": _OPTOUT_BODY,
        "responses": {
            "201": {"description": "the opt-out, number masked"},
            "422": {"description": "bad number"},
        },
    },
)
document(
    "/optouts",
    "delete",
    {
        "summary": "Opt a number back in",
        "requestBody": _OPTOUT_BODY,
        "responses": {
            "204": {"description": "removed"},
            "404": {"description": "not opted out"},
            "422": {"description": "no phone given"},
        },
    },
)
