"""A large contact import runs in a worker (issue 12): stored in SQL, imported by a job with its
progress on the record, followed by the admin page and by ``GET /api/v1/contacts/imports/…``."""

from __future__ import annotations

import io
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from campaigns import import_records
from campaigns.importing import CHUNK_ROWS
from campaigns.models import ContactImport, ContactImportPart, ListMember
from gateway import jobs, queues
from gateway.models import AuditEvent
from workers import imports, reconciler


@pytest.fixture
def settings(settings: Any) -> Any:
    """Every upload larger than 64 bytes imports in a worker."""
    return settings.model_copy(update={"import_async_bytes": 64})


def _csv(rows: int, bad_every: int = 1000) -> bytes:
    """``rows`` rows: distinct mobile numbers, a junk value every ``bad_every`` rows, and the
    first number repeated at the end."""
    lines = ["số điện thoại,họ tên"]
    for i in range(rows):
        lines.append(f"khong-phai-so-{i},X" if i % bad_every == 7 else f"0981{i:06d},Người {i}")
    lines.append("0981000000,Trùng")
    return ("\n".join(lines) + "\n").encode()


def _editor_headers(role: str = "editor") -> dict[str, str]:
    from gateway.auth import create_token
    from tests.factories import create_user

    return {"Authorization": f"Bearer {create_token(create_user(role))}"}


def _store(session: Session, data: bytes, name: str = "big.csv") -> ContactImport:
    record = import_records.store_upload(
        session, io.BytesIO(data), "Tình nguyện viên", filename=name, created_by=None
    )
    session.commit()
    return record


def test_stored_import_matches_an_inline_one_and_shows_progress(
    session: Session, new_session: Session, db_engine: Any
) -> None:
    """The worker's import of a stored file counts exactly what an inline import of the same
    file counts; its progress is visible to another session after each chunk; the file's
    pieces are gone at the end."""
    data = _csv(2 * CHUNK_ROWS + 1500)
    record = _store(session, data)
    assert record.status == import_records.QUEUED
    assert record.size_bytes == len(data)
    seen: list[dict[str, Any]] = []

    def watch(_: Session) -> None:
        with db_engine.connect() as conn:
            seen.append(
                conn.execute(
                    select(ContactImport.status, ContactImport.counts).where(
                        ContactImport.id == record.id
                    )
                )
                .one()
                ._asdict()
            )

    event.listen(new_session, "after_commit", watch)
    done = import_records.run_stored(new_session, record.id)
    new_session.commit()
    assert done is not None and done.status == import_records.DONE
    running = [s["counts"] for s in seen if s["status"] == import_records.RUNNING]
    rows_seen = [c["rows"] for c in running if "rows" in c]
    assert len(rows_seen) >= 2 and rows_seen == sorted(rows_seen)
    assert all(0 < (c["bytes_read"] or 0) <= len(data) for c in running if "rows" in c)
    assert new_session.scalar(select(func.count()).select_from(ContactImportPart)) == 0

    inline, _ = import_records.import_now(
        session, io.BytesIO(data), "Đối chứng", filename="big.csv", created_by=None
    )
    session.commit()
    keys = ("rows", "duplicates", "rejected_count", "opted_out")
    assert {k: done.counts[k] for k in keys} == {k: getattr(inline, k) for k in keys}
    assert done.counts["added"] == inline.updated  # the second import found them all known
    assert (inline.rows, inline.rejected_count, inline.duplicates) == (11501, 12, 1)
    stored = done.counts
    members = session.scalar(
        select(func.count()).select_from(ListMember).where(ListMember.list_id == done.list_id)
    )
    assert members == stored["added"]
    assert done.rejected_csv.splitlines()[1] == "9,khong-phai-so-7,not_a_number"


def test_a_file_that_cannot_be_imported_fails_with_its_reason(session: Session) -> None:
    """No phone column: the record is failed with the same message an inline import gives,
    and its stored pieces are deleted."""
    record = _store(session, b"ten,dia chi\nA,B\n")
    done = import_records.run_stored(session, record.id)
    session.commit()
    assert done is not None and done.status == import_records.FAILED
    assert "Không tìm thấy cột số điện thoại" in done.error
    assert session.scalar(select(func.count()).select_from(ContactImportPart)) == 0
    assert import_records.run_stored(session, record.id) is None  # finished: nothing to run


def test_an_import_interrupted_too_often_is_failed(session: Session) -> None:
    """A worker killed midway leaves the import running: it runs again from the start, but
    not forever."""
    record = _store(session, _csv(10))
    record.status, record.counts = import_records.RUNNING, {"attempts": 1}
    session.commit()
    again = import_records.run_stored(session, record.id)
    session.commit()
    assert again is not None and again.status == import_records.DONE
    assert again.counts["attempts"] == 2 and again.counts["added"] == 9  # row 7 is junk
    worn = _store(session, _csv(10))
    worn.status, worn.counts = import_records.RUNNING, {"attempts": import_records.MAX_ATTEMPTS}
    session.commit()
    failed = import_records.run_stored(session, worn.id)
    assert failed is not None and failed.status == import_records.FAILED
    assert "nhiều lần" in failed.error


def test_admin_upload_runs_in_a_worker_with_a_progress_page(
    client: Any, login_as: Any, session: Session, redis_conn: Any, rq_worker: Any
) -> None:
    """A file over the threshold: the upload lands on a page saying it waits for a worker, its
    progress JSON says so too; the job is on the bulk lane; after the worker ran, the same page
    shows the result, audited under the uploader's name."""
    user = login_as("editor")
    data = {"file": (io.BytesIO(_csv(300)), "lon.csv"), "list_name": "Cán bộ xã"}
    resp = client.post("/contacts/import", data=data)
    assert resp.status_code == 302
    page_url = resp.headers["Location"]
    token = page_url.rsplit("/", 1)[1]
    page = client.get(page_url).get_data(as_text=True)
    assert 'id="import-progress"' in page and "Đang chờ xử lý" in page
    progress = client.get(f"/contacts/imports/{token}/progress.json").json
    assert (progress["status"], progress["status_label"]) == ("queued", "Đang chờ xử lý")
    record = session.scalar(select(ContactImport).where(ContactImport.token == token))
    assert record is not None
    bulk = queues.queue(queues.BULK, redis_conn)
    assert jobs.IMPORT_CONTACTS.job_id(record.id) in bulk.get_job_ids()
    job = bulk.fetch_job(str(jobs.IMPORT_CONTACTS.job_id(record.id)))
    assert job is not None and job.timeout == 3600  # not RQ's 180 s: a big file takes minutes
    assert rq_worker.run()
    session.expire_all()  # the worker wrote through its own session
    page = client.get(page_url).get_data(as_text=True)
    assert 'id="import-progress"' not in page and 'data-count="added">299<' in page  # row 7 is junk
    assert client.get(f"/contacts/imports/{token}/progress.json").json["status"] == "done"
    actions = list(
        session.execute(
            select(AuditEvent.action, AuditEvent.actor_id).where(
                AuditEvent.action.like("contacts.import%")
            )
        )
    )
    assert sorted(actions) == [("contacts.import", user.id), ("contacts.import_queued", user.id)]


def test_admin_shows_a_failed_import_and_its_reason(
    client: Any, login_as: Any, rq_worker: Any
) -> None:
    """A large file without a phone column fails in the worker; its page says why."""
    login_as("editor")
    body = b"ten,dia chi\n" + b"Nguyen Van A,Ke Sach\n" * 20
    resp = client.post(
        "/contacts/import", data={"file": (io.BytesIO(body), "x.csv"), "list_name": "L"}
    )
    rq_worker.run()
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Không nhập được" in page and "Không tìm thấy cột số điện thoại" in page


def test_api_answers_202_with_a_location_to_poll(
    client: Any, session: Session, rq_worker: Any
) -> None:
    """``Prefer: respond-async`` (or a file over the threshold): 202, ``Location`` and
    ``Preference-Applied``; polling shows queued, then the counts of a 200 answer."""
    headers = _editor_headers()
    payload = {"file": (io.BytesIO(_csv(50, bad_every=20)), "a.csv"), "list": "API lớn"}
    resp = client.post(
        "/api/v1/contacts/import",
        data=payload,
        headers={**headers, "Prefer": "respond-async, wait=10"},
    )
    assert resp.status_code == 202, resp.json
    assert resp.headers["Preference-Applied"] == "respond-async"
    location = resp.headers["Location"]
    assert location == f"/api/v1/contacts/imports/{resp.json['token']}"
    assert resp.json["status"] == "queued"
    assert client.get(location, headers=headers).json["status"] == "queued"
    rq_worker.run()
    body = client.get(location, headers=headers).json
    assert body["status"] == "done"
    assert (body["rows"], body["added"], body["duplicates"], body["rejected_count"]) == (
        51,
        47,
        1,
        3,
    )
    assert [r["line"] for r in body["rejected"]] == [9, 29, 49]
    with client.get(body["rejected_download"], headers=headers) as download:
        assert download.get_data(as_text=True).count("not_a_number") == 3


def test_api_small_file_without_prefer_stays_200_and_status_needs_the_role(
    client: Any, settings: Any
) -> None:
    """Under the threshold the contract is unchanged (200 with the counts); reading an import's
    status needs ``contacts.edit``; an unknown token is 404."""
    headers = _editor_headers()
    small = {"file": (io.BytesIO(b"phone\n0912\n"), "s.csv"), "list": "Nhỏ"}
    assert len(b"phone\n0912\n") <= settings.import_async_bytes
    resp = client.post("/api/v1/contacts/import", data=small, headers=headers)
    assert resp.status_code == 200 and "status" not in resp.json
    big = {"file": (io.BytesIO(_csv(20)), "b.csv"), "list": "Lớn"}
    location = client.post("/api/v1/contacts/import", data=big, headers=headers).headers["Location"]
    assert client.get(location, headers=_editor_headers("police")).status_code == 403
    assert client.get(location, headers=_editor_headers("admin")).status_code == 200
    assert client.get("/api/v1/contacts/imports/nope", headers=headers).status_code == 404


def test_reconciler_enqueues_an_import_whose_job_redis_lost(
    app: Any, session: Session, redis_conn: Any, rq_worker: Any
) -> None:
    """After a Redis flush the stored import is enqueued again by the reconciler and done."""
    record = _store(session, _csv(40))
    redis_conn.flushdb()
    out = reconciler.run()
    assert record.id in out["imports"]
    assert rq_worker.run()
    session.expire_all()
    assert session.get(ContactImport, record.id).status == import_records.DONE  # type: ignore[union-attr]
    assert imports.enqueue_unfinished(session) == []
