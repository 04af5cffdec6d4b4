"""The one table of what users read instead of codes: tip states, resolutions, priorities,
channels and events; campaign states, actions and paused reasons; delivery statuses and skip
reasons; queues, roles; audit actions, objects and details; casework problems.

Source strings are Vietnamese (Babel translates them). Every page, export and user-facing message
names a code through these tables, so a state reads the same everywhere; the codes themselves
stay in data attributes, URLs and the API's JSON fields (a contract). A test renders the pages
with data in every state and fails when any key of :data:`CODE_TABLES` shows as visible text.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from campaigns import delegation, fields, lifecycle, localtime
from campaigns import statuses as delivery
from campaigns.windows import Window
from gateway.tips import states

STATE_LABELS: dict[str, Any] = {
    states.NEW: _l("Mới"),
    states.ACKNOWLEDGED: _l("Đã tiếp nhận"),
    states.IN_PROGRESS: _l("Đang xử lý"),
    states.HANDED_OFF: _l("Đã chuyển giao"),
    states.CLOSED: _l("Đã đóng"),
}
RESOLUTION_LABELS: dict[str, Any] = {
    "referred_police": _l("Chuyển Công an"),
    "referred_111": _l("Chuyển Tổng đài 111"),
    "referred_border_guard": _l("Chuyển Biên phòng"),
    "no_action": _l("Không cần xử lý"),
    "duplicate": _l("Trùng lặp"),
    "spam": _l("Tin rác"),
}
REPLY_KIND_LABELS: dict[str, Any] = {
    "ack": _l("Xác nhận tự động"),
    "reply": _l("Trả lời"),
    "alert": _l("Báo động cán bộ"),
}
REPLY_STATUS_LABELS: dict[str, Any] = {
    "queued": _l("Chờ gửi"),
    "sending": _l("Đang gửi"),
    "sent": _l("Đã gửi"),
    "failed": _l("Gửi không được"),
    "unknown": _l("Chưa rõ đã gửi hay chưa"),
    "suppressed": _l("Không gửi (không liên lạc)"),
    "inline": _l("Đã trả lời ngay khi nhận"),
}
TOKEN_STATE_LABELS: dict[str, Any] = {
    "active": _l("Đang dùng"),
    "revoked": _l("Đã thu hồi"),
    "expired": _l("Đã hết hạn"),
}
PASSWORD_PROBLEMS: dict[str, Any] = {
    "too_short": _l("Mật khẩu mới phải dài ít nhất 12 ký tự (có thể là một câu dễ nhớ)."),
    "too_long": _l("Mật khẩu mới dài quá 128 ký tự."),
    "guessable": _l(
        "Mật khẩu mới quá dễ đoán (mật khẩu phổ biến, dãy phím, hoặc chứa tên, email). "
        "Hãy dùng một câu dài hơn, khó đoán hơn."
    ),
}
CAMPAIGN_FIELD_PROBLEMS: dict[str, Any] = {
    fields.REQUIRED: _l("Không được để trống."),
    fields.TOO_LONG: _l("Dài quá %(limit)d ký tự."),
    fields.NOT_A_NUMBER: _l("Phải là một số (phần tin nhắn mỗi giây)."),
    fields.RATE_RANGE: _l("Tốc độ phải lớn hơn 0 và không quá %(max)g phần/giây."),
    fields.BAD_WINDOW: _l(
        "Khung giờ gửi có dạng GG:PP, từ 00:00 đến 24:00; giờ bắt đầu khác giờ kết thúc "
        "(kết thúc trước giờ bắt đầu nghĩa là qua nửa đêm)."
    ),
    fields.BAD_TIME: _l("Thời điểm gửi không hợp lệ (ví dụ 2025-07-30T08:00)."),
    fields.BAD_RECURRENCE: _l("Lịch lặp chỉ là “không lặp” hoặc “hằng năm”."),
    fields.YEARLY_NEEDS_TIME: _l("Lịch lặp hằng năm cần một thời điểm gửi."),
    fields.BAD_SENDER: _l("Mỗi tên người gửi dài từ 1 đến %(limit)d ký tự."),
    fields.BAD_PROVIDERS: _l("Chỉ chọn các nhà cung cấp khác nhau trong: %(known)s."),
    fields.BAD_DATE: _l("Ngày không hợp lệ (ví dụ 2025-07-20)."),
}
PRIORITY_LABELS: dict[str, Any] = {states.URGENT: _l("Khẩn"), states.NORMAL: _l("Thường")}
CHANNEL_LABELS: dict[str, Any] = {
    "sms": _l("SMS"),
    "smpp": _l("SMS (SMPP)"),
    "http_mo": _l("SMS (HTTP)"),
    "web": _l("Biểu mẫu web"),
    "call": _l("Cuộc gọi"),
}
EVENT_LABELS: dict[str, Any] = {
    "created": _l("Tiếp nhận"),
    "routed": _l("Định tuyến"),
    "status": _l("Đổi trạng thái"),
    "assigned": _l("Phân công"),
    "handed_off": _l("Chuyển giao"),
    "shared": _l("Chia sẻ"),
    "note": _l("Ghi chú"),
    "reply": _l("Trả lời người gửi"),
    "merged": _l("Gộp tin trùng"),
    "escalated": _l("Báo động"),
    "legal_hold": _l("Lưu giữ phục vụ điều tra"),
    "legal_hold_released": _l("Bỏ lưu giữ phục vụ điều tra"),
}


PROVIDER_LABELS: dict[str, Any] = {
    "simulator": _l("Mô phỏng (không gửi thật)"),
    "twilio": _l("Twilio"),
    "smpp": _l("SMPP (kết nối nhà mạng)"),
    "http": _l("Nhà cung cấp qua HTTP (eSMS…)"),
}


CAMPAIGN_STATE_LABELS: dict[str, Any] = {
    lifecycle.DRAFT: _l("Bản nháp"),
    lifecycle.PENDING_APPROVAL: _l("Chờ phê duyệt"),
    lifecycle.APPROVED: _l("Đã phê duyệt"),
    lifecycle.REJECTED: _l("Bị từ chối"),
    lifecycle.SCHEDULED: _l("Đã lên lịch"),
    lifecycle.RUNNING: _l("Đang gửi"),
    lifecycle.PAUSED: _l("Tạm dừng"),
    lifecycle.REQUESTED: _l("Đã gửi công văn cho nhà mạng"),
    lifecycle.COMPLETED: _l("Hoàn tất"),
    lifecycle.CANCELLED: _l("Đã huỷ"),
}
# Shown instead of "Đã phê duyệt" while the launch job is queued and has not yet moved the
# campaign to running (a few seconds, longer when the workers are busy).
LAUNCHING_LABEL = _l("Đang chuẩn bị gửi")
CAMPAIGN_ROUTE_LABELS: dict[str, Any] = {
    delegation.ROUTE_LOA: _l("Loa gửi"),
    delegation.ROUTE_OPERATORS: _l("Nhờ nhà mạng gửi"),
}
OPERATOR_REQUEST_LABELS: dict[str, Any] = {
    delegation.PREPARED: _l("Đã soạn công văn"),
    delegation.REQUESTED: _l("Đã gửi đề nghị"),
    delegation.ACKNOWLEDGED: _l("Nhà mạng đã nhận"),
    delegation.SENDING: _l("Nhà mạng đang gửi"),
    delegation.REPORTED: _l("Đã báo cáo kết quả"),
    delegation.DECLINED: _l("Nhà mạng từ chối"),
}
CAMPAIGN_ACTION_LABELS: dict[str, Any] = {
    lifecycle.SUBMIT: _l("Gửi phê duyệt"),
    lifecycle.APPROVE: _l("Phê duyệt"),
    lifecycle.REJECT: _l("Từ chối"),
    lifecycle.SCHEDULE: _l("Lên lịch"),
    lifecycle.LAUNCH: _l("Bắt đầu gửi"),
    lifecycle.REQUEST: _l("Ghi nhận đã gửi công văn"),
    lifecycle.PAUSE: _l("Tạm dừng"),
    lifecycle.RESUME: _l("Tiếp tục"),
    lifecycle.COMPLETE: _l("Hoàn tất"),
    lifecycle.CANCEL: _l("Huỷ"),
    lifecycle.EDIT: _l("Sửa"),
    "rate": _l("Đổi tốc độ"),
}
# The engine's paused reasons are "<code>" or "<code>: <detail>"; a person's pause reason is
# free text and shown as written.
PAUSED_REASON_LABELS: dict[str, Any] = {
    "window": _l("Ngoài khung giờ gửi (tự tiếp tục khi khung giờ mở lại)"),
    "kill_switch": _l("Dừng khẩn cấp"),
    "provider_errors": _l("Nhà cung cấp báo lỗi liên tiếp"),
    "audience": _l("Danh sách người nhận không hợp lệ"),
    "halt": _l("Nhà cung cấp từ chối gửi tiếp"),
}
DELIVERY_STATUS_LABELS: dict[str, Any] = {
    delivery.PENDING: _l("Chờ gửi"),
    delivery.SENDING: _l("Đang gửi"),
    delivery.SENT: _l("Đã gửi tới nhà cung cấp"),
    delivery.DELIVERED: _l("Đã giao"),
    delivery.UNDELIVERED: _l("Không giao được"),
    delivery.FAILED: _l("Thất bại"),
    delivery.UNKNOWN: _l("Không rõ kết quả"),
    delivery.SKIPPED: _l("Bỏ qua"),
}
SKIP_REASON_LABELS: dict[str, Any] = {
    delivery.SKIP_OPTED_OUT: _l("từ chối nhận tin"),
    delivery.SKIP_INVALID: _l("số không hợp lệ"),
    delivery.SKIP_DUPLICATE: _l("trùng số"),
    delivery.SKIP_DO_NOT_CONTACT: _l("bị chặn gửi"),
    delivery.SKIP_SUPPRESSED: _l("bị chặn gửi"),
    delivery.SKIP_CANCELLED: _l("chiến dịch bị huỷ"),
}
# Queues that exist whatever the areas are; an area's police queue is named after the area.
QUEUE_LABELS: dict[str, Any] = {
    "police_province": _l("Công an tỉnh"),
    "border_guard": _l("Biên phòng"),
    "hotline_111": _l("Tổng đài 111"),
}
AREA_POLICE_LABEL = _l("Công an %(area)s")
# An area queue whose area is not loaded (deleted, or another install's data): still words.
UNKNOWN_AREA_POLICE_LABEL = _l("Công an địa bàn (chưa có trong danh mục địa bàn)")
UNKNOWN_QUEUE_LABEL = _l("Hàng đợi không còn dùng")
AREA_KIND_LABELS: dict[str, Any] = {
    "province": _l("Tỉnh"),
    "city": _l("Thành phố"),
    "district": _l("Huyện"),
    "town": _l("Thị xã"),
    "commune": _l("Xã"),
    "ward": _l("Phường"),
    "township": _l("Thị trấn"),
}
ROLE_LABELS: dict[str, Any] = {
    "admin": _l("Quản trị"),
    "editor": _l("Biên tập chiến dịch"),
    "approver": _l("Phê duyệt"),
    "police": _l("Công an"),
    "border_guard": _l("Biên phòng"),
    "hotline_111": _l("Tổng đài 111"),
}
AUDIT_ACTION_LABELS: dict[str, Any] = {
    "area.edit": _l("Sửa địa bàn"),
    **{
        f"campaign.{action}": label_
        for action, label_ in {
            "create": _l("Tạo chiến dịch"),
            "edit": _l("Sửa chiến dịch"),
            "submit": _l("Gửi phê duyệt chiến dịch"),
            "approve": _l("Phê duyệt chiến dịch"),
            "reject": _l("Từ chối chiến dịch"),
            "schedule": _l("Lên lịch chiến dịch"),
            "launch": _l("Bắt đầu gửi chiến dịch"),
            "pause": _l("Tạm dừng chiến dịch"),
            "resume": _l("Tiếp tục chiến dịch"),
            "complete": _l("Hoàn tất chiến dịch"),
            "cancel": _l("Huỷ chiến dịch"),
            "rate": _l("Đổi tốc độ gửi"),
            "test_send": _l("Gửi thử chiến dịch"),
            "test_sent": _l("Đã gửi thử chiến dịch"),
            "test_window_override": _l("Gửi thử ngoài khung giờ (quản trị cho phép)"),
            "export_deliveries": _l("Xuất danh sách gửi tin"),
            "request": _l("Ghi nhận đã gửi công văn đề nghị nhà mạng"),
            "letter_download": _l("Tải công văn đề nghị nhà mạng"),
            "operator_update": _l("Cập nhật phản hồi của nhà mạng"),
        }.items()
    },
    "campaigns.letter_template": _l("Sửa mẫu công văn đề nghị nhà mạng"),
    "reports.results_download": _l("Tải báo cáo kết quả"),
    "contacts.import": _l("Nhập danh bạ"),
    "contacts.import_queued": _l("Tải lên tệp danh bạ để nhập nền"),
    "contacts.import_failed": _l("Nhập danh bạ không thành công"),
    "contacts.rejects_download": _l("Tải các dòng bị loại khi nhập"),
    "db.backup": _l("Sao lưu cơ sở dữ liệu"),
    "db.restore": _l("Khôi phục cơ sở dữ liệu"),
    "kill_switch.engage": _l("Dừng khẩn cấp"),
    "kill_switch.release": _l("Gỡ dừng khẩn cấp"),
    "login": _l("Đăng nhập"),
    "login.locked": _l("Khoá đăng nhập tạm thời"),
    "login_failed": _l("Đăng nhập không thành công"),
    "logout": _l("Đăng xuất"),
    "mfa.enrolled": _l("Bật xác thực hai bước"),
    "mfa.recovery_codes_renewed": _l("Cấp lại mã khôi phục"),
    "optout.add": _l("Thêm số từ chối nhận tin"),
    "optout.remove": _l("Bỏ số khỏi danh sách từ chối"),
    "roster.create": _l("Thêm ca trực"),
    "roster.delete": _l("Xoá ca trực"),
    "retention.run": _l("Xoá nội dung quá hạn lưu trữ"),
    "rule.create": _l("Tạo quy tắc định tuyến"),
    "rule.edit": _l("Sửa quy tắc định tuyến"),
    "rule.activate": _l("Bật quy tắc định tuyến"),
    "rule.deactivate": _l("Tắt quy tắc định tuyến"),
    "sender.do_not_contact": _l("Đánh dấu không liên lạc"),
    "simulator.sms": _l("Gửi tin từ điện thoại mô phỏng"),
    "simulator.view": _l("Mở điện thoại mô phỏng"),
    "tip.assign": _l("Phân công tin báo"),
    "tip.call_logged": _l("Ghi cuộc gọi"),
    "tip.denied": _l("Bị từ chối xem tin báo"),
    "tip.export": _l("Xuất hồ sơ tin báo"),
    "tip.hand_off": _l("Chuyển giao tin báo"),
    "tip.legal_hold": _l("Lưu giữ tin báo phục vụ điều tra"),
    "tip.legal_hold_released": _l("Bỏ lưu giữ tin báo phục vụ điều tra"),
    "tip.list": _l("Xem danh sách tin báo (API)"),
    "tip.merge": _l("Gộp tin báo trùng"),
    "tip.note": _l("Ghi chú tin báo"),
    "tip.reply": _l("Trả lời người gửi"),
    "tip.reveal": _l("Xem số đầy đủ"),
    "tip.transition": _l("Đổi trạng thái tin báo"),
    "tip.view": _l("Xem tin báo"),
    "token.create": _l("Tạo mã truy cập API"),
    "token.revoke": _l("Thu hồi mã truy cập API"),
    "user.activate": _l("Mở lại tài khoản"),
    "user.create": _l("Tạo tài khoản"),
    "user.deactivate": _l("Khoá tài khoản"),
    "user.password_changed": _l("Đổi mật khẩu"),
    "user.reset_2fa": _l("Đặt lại xác thực hai bước"),
    "user.reset_password": _l("Đặt lại mật khẩu"),
    "user.sign_out": _l("Đăng xuất mọi phiên"),
}
AUDIT_OBJECT_LABELS: dict[str, Any] = {
    "api_token": _l("Mã truy cập API"),
    "area": _l("Địa bàn"),
    "campaign": _l("Chiến dịch"),
    "contact_list": _l("Danh sách liên hệ"),
    "contact_import": _l("Lần nhập danh bạ"),
    "database": _l("Cơ sở dữ liệu"),
    "letter_template": _l("Mẫu công văn"),
    "report": _l("Báo cáo"),
    "opt_out": _l("Số từ chối nhận tin"),
    "retention": _l("Lưu trữ"),
    "roster": _l("Ca trực"),
    "rule": _l("Quy tắc định tuyến"),
    "simulator": _l("Điện thoại mô phỏng"),
    "tip": _l("Tin báo"),
    "user": _l("Tài khoản"),
}
AUDIT_DETAIL_LABELS: dict[str, Any] = {
    "after": _l("sau"),
    "before": _l("trước"),
    "channel": _l("kênh"),
    "do_not_contact": _l("không liên lạc"),
    "email_domain": _l("tên miền email"),
    "expires_days": _l("hết hạn sau (ngày)"),
    "fields": _l("trường"),
    "from": _l("từ"),
    "full_numbers": _l("số đầy đủ"),
    "into": _l("gộp vào"),
    "job": _l("công việc"),
    "list": _l("danh sách"),
    "list_id": _l("mã danh sách"),
    "name": _l("tên"),
    "packet_sha256": _l("mã băm hồ sơ"),
    "phone": _l("số điện thoại"),
    "priority": _l("mức ưu tiên"),
    "queue": _l("hàng đợi"),
    "reason": _l("lý do"),
    "recipient": _l("nơi nhận"),
    "recipients": _l("số người nhận"),
    "rejected": _l("số dòng bị loại"),
    "resolution": _l("kết quả"),
    "result": _l("lần nhập"),
    "revealed": _l("hiện số đầy đủ"),
    "role": _l("vai trò"),
    "scope": _l("phạm vi"),
    "sender": _l("người gửi"),
    "sessions": _l("số phiên"),
    "sha256": _l("mã băm"),
    "size_bytes": _l("dung lượng (byte)"),
    "since": _l("từ ngày"),
    "status": _l("trạng thái"),
    "step": _l("bước"),
    "to": _l("sang"),
    "to_queue": _l("sang hàng đợi"),
    "to_user_id": _l("giao cho (mã)"),
    "user_id": _l("tài khoản (mã)"),
    "version": _l("phiên bản"),
}
CAMPAIGN_FIELD_LABELS: dict[str, Any] = {
    "name": _l("tên"),
    "body": _l("nội dung"),
    "audience": _l("người nhận"),
    "senders": _l("đầu số gửi"),
    "provider": _l("nhà cung cấp"),
    "rate_per_second": _l("tốc độ"),
    "window_start": _l("giờ bắt đầu gửi"),
    "window_end": _l("giờ kết thúc gửi"),
    "scheduled_at": _l("thời điểm gửi"),
    "recurrence": _l("lịch lặp"),
}
CASEWORK_PROBLEMS: dict[str, Any] = {
    "unknown_state": _l("Trạng thái này không tồn tại."),
    "bad_move": _l("Không thể chuyển tin báo từ “%(from)s” sang “%(to)s”."),
    "needs_resolution": _l("Muốn đóng tin báo, hãy chọn kết quả xử lý."),
    "assignee_cannot_work": _l("Người được phân công không xử lý được tin báo này."),
    "note_length": _l("Ghi chú dài từ 1 đến %(max)d ký tự."),
    "reply_length": _l("Câu trả lời dài từ 1 đến %(max)d ký tự."),
    "no_sender": _l("Tin báo này không có số người gửi."),
    "do_not_contact": _l("Người gửi đã được đánh dấu không liên lạc: không trả lời được."),
    "reveal_needs_reason": _l("Cần nêu lý do xem số đầy đủ."),
    "merge_self": _l("Không thể gộp một tin báo vào chính nó."),
    "merge_into_merged": _l("Tin báo chính đã được gộp vào tin khác; hãy gộp vào tin chính đó."),
    "already_merged": _l("Tin báo này đã được gộp."),
    "handoff_recipient": _l("Hãy ghi nơi nhận chuyển giao (1 đến 200 ký tự)."),
}
# The audit details whose values are codes, and the table that names them.
_DETAIL_VALUE_TABLES: dict[str, dict[str, Any]] = {
    "resolution": RESOLUTION_LABELS,
    "channel": CHANNEL_LABELS,
    "priority": PRIORITY_LABELS,
    "role": ROLE_LABELS,
}
YES, NO = _l("có"), _l("không")

# The work lanes (RQ queues) and a worker's state, as the admin's health panel names them.
LANE_LABELS: dict[str, Any] = {
    "replies": _l("Trả lời và báo động"),
    "bulk": _l("Gửi chiến dịch"),
    "events": _l("Báo cáo giao tin và việc định kỳ"),
}
WORKER_STATE_LABELS: dict[str, Any] = {
    "busy": _l("Đang làm việc"),
    "idle": _l("Đang chờ việc"),
    "started": _l("Vừa khởi động"),
    "suspended": _l("Tạm ngừng"),
}
# A contact import's state (an import of a large file runs in a worker).
IMPORT_STATUS_LABELS: dict[str, Any] = {
    "queued": _l("Đang chờ xử lý"),
    "running": _l("Đang nhập"),
    "done": _l("Đã nhập xong"),
    "failed": _l("Không nhập được"),
}

# Every table of codes: the raw-code test checks that none of their keys shows on a page.
CODE_TABLES: dict[str, dict[str, Any]] = {
    "tip_states": STATE_LABELS,
    "resolutions": RESOLUTION_LABELS,
    "reply_kinds": REPLY_KIND_LABELS,
    "reply_statuses": REPLY_STATUS_LABELS,
    "token_states": TOKEN_STATE_LABELS,
    "priorities": PRIORITY_LABELS,
    "channels": CHANNEL_LABELS,
    "events": EVENT_LABELS,
    "providers": PROVIDER_LABELS,
    "campaign_states": CAMPAIGN_STATE_LABELS,
    "campaign_actions": CAMPAIGN_ACTION_LABELS,
    "campaign_routes": CAMPAIGN_ROUTE_LABELS,
    "operator_requests": OPERATOR_REQUEST_LABELS,
    "paused_reasons": PAUSED_REASON_LABELS,
    "delivery_statuses": DELIVERY_STATUS_LABELS,
    "skip_reasons": SKIP_REASON_LABELS,
    "queues": QUEUE_LABELS,
    "roles": ROLE_LABELS,
    "area_kinds": AREA_KIND_LABELS,
    "audit_actions": AUDIT_ACTION_LABELS,
    "audit_objects": AUDIT_OBJECT_LABELS,
    "audit_details": AUDIT_DETAIL_LABELS,
    "lanes": LANE_LABELS,
    "worker_states": WORKER_STATE_LABELS,
    "import_statuses": IMPORT_STATUS_LABELS,
}


def label(table: dict[str, Any], key: str | None) -> str:
    """The label of ``key`` in ``table`` (the key itself when unknown, "" for None)."""
    return "" if key is None else str(table.get(key, key))


def field_problem(problem: fields.Invalid) -> str:
    """What is wrong with a campaign's field, in the user's language."""
    return str(CAMPAIGN_FIELD_PROBLEMS[problem.code]) % problem.params


def window_notice(start: str | None, end: str | None, now: dt.datetime) -> str:
    """Said before launch when a campaign's sending window is closed at ``now`` (UTC): when
    sending will start, in local time. "" when the window is open now or cannot be read (the
    form reports that)."""
    try:
        window = Window.parse(start, end)
    except ValueError:
        return ""
    if window.is_open(now):
        return ""
    zone = localtime.zone()
    opens = window.next_opening(now).astimezone(zone)
    at = opens.strftime("%H:%M")
    if opens.date() == now.astimezone(zone).date():
        return str(
            _(
                "Khung giờ gửi đang đóng: nếu bắt đầu bây giờ, tin sẽ được gửi từ %(at)s hôm nay.",
                at=at,
            )
        )
    # A daily window opens again within a day: the next opening is today or tomorrow.
    return str(
        _(
            "Khung giờ gửi đang đóng: nếu bắt đầu bây giờ, tin sẽ được gửi từ %(at)s ngày mai.",
            at=at,
        )
    )


def wait_text(now: dt.datetime, since: dt.datetime) -> str:
    """How long since ``since``, in words: "45 phút", "3 giờ 12 phút", "2 ngày 3 giờ"."""
    if since.tzinfo is None:
        since = since.replace(tzinfo=dt.UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=dt.UTC)
    minutes = max(0, int((now - since).total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return str(_("%(d)d ngày %(h)d giờ", d=days, h=hours))
    if hours:
        return str(_("%(h)d giờ %(m)d phút", h=hours, m=mins))
    return str(_("%(m)d phút", m=mins))


def paused_reason(reason: str | None) -> str:
    """A campaign's paused reason in words: the engine's codes named, a person's text as is."""
    if not reason:
        return ""
    code, sep, detail = reason.partition(":")
    if code in PAUSED_REASON_LABELS:
        named = str(PAUSED_REASON_LABELS[code])
        if code == "provider_errors":
            # "N consecutive provider errors (last CODE)": the provider's error code is kept.
            last = detail.rpartition("(last ")[2].rstrip(") ").strip()
            return f"{named} ({last})" if sep and last else named
        return f"{named}: {detail.strip()}" if sep and detail.strip() else named
    return reason


def queue_name(queue: str | None, area_names: dict[str, str]) -> str:
    """A queue in words: a fixed queue's name, or "Công an <area>" from the areas table.

    Never the raw id: an area queue whose area is unknown reads as an area's police.
    """
    if not queue:
        return ""
    if queue in QUEUE_LABELS:
        return str(QUEUE_LABELS[queue])
    name = area_names.get(queue)
    if name:
        return str(AREA_POLICE_LABEL) % {"area": name}
    if queue.startswith("police_"):
        return str(UNKNOWN_AREA_POLICE_LABEL)
    return str(UNKNOWN_QUEUE_LABEL)


def transition_problem(exc: lifecycle.IllegalTransition) -> str:
    """Why a campaign action was refused, naming the action and state in the user's language."""
    if (
        exc.action is None
        or exc.status is None
        or exc.code not in ("illegal_transition", "conflict")
    ):
        return exc.reason
    action = label(CAMPAIGN_ACTION_LABELS, exc.action)
    state = label(CAMPAIGN_STATE_LABELS, exc.status)
    if exc.code == "conflict":
        return str(_l("Chiến dịch vừa được người khác chuyển sang trạng thái “%(state)s”.")) % {
            "state": state
        }
    return str(_l("Không thể “%(action)s” khi chiến dịch đang ở trạng thái “%(state)s”.")) % {
        "action": action,
        "state": state,
    }


def casework_problem(code: str | None, params: dict[str, Any], fallback: str) -> str:
    """A casework refusal in words (states named); ``fallback`` when the code is unknown."""
    if code not in CASEWORK_PROBLEMS:
        return fallback
    named = {k: label(STATE_LABELS, v) if k in ("from", "to") else v for k, v in params.items()}
    return str(CASEWORK_PROBLEMS[code]) % named


def audit_action(action: str | None) -> str:
    """An audit action in words."""
    return label(AUDIT_ACTION_LABELS, action)


def audit_object(object_type: str | None, object_id: str | int | None) -> str:
    """An audit event's object: its kind in words, and its id when it has one."""
    if not object_type:
        return ""
    kind = label(AUDIT_OBJECT_LABELS, object_type)
    return f"{kind} #{object_id}" if object_id not in (None, "", "None") else kind


def audit_detail(
    action: str | None, key: str, value: Any, area_names: dict[str, str]
) -> tuple[str, str]:
    """One audit detail as ``(name, value)`` in words: states, queues, roles… named."""
    name = label(AUDIT_DETAIL_LABELS, key)
    domain = (action or "").partition(".")[0]
    if isinstance(value, bool):
        return name, str(YES if value else NO)
    if value is None:
        return name, "—"
    if isinstance(value, list):
        table = CAMPAIGN_FIELD_LABELS if key == "fields" else {}
        return name, ", ".join(label(table, str(v)) for v in value)
    text = str(value)
    if key in ("from", "to") and isinstance(value, str):
        # A tip's or a campaign's states; a merge's "from" is a tip id, a rate's a number.
        first, second = (
            (CAMPAIGN_STATE_LABELS, STATE_LABELS)
            if domain == "campaign"
            else (STATE_LABELS, CAMPAIGN_STATE_LABELS)
        )
        return name, label(first, label(second, text) if text not in first else text)
    if key in ("queue", "to_queue", "scope"):
        return name, queue_name(text, area_names)
    if key in _DETAIL_VALUE_TABLES:
        return name, label(_DETAIL_VALUE_TABLES[key], text)
    return name, text
