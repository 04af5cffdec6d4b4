"""The Vietnamese labels of a tip's states, resolutions, priorities, channels and events.

Source strings are Vietnamese (Babel translates them); the inbox, the case packet and the
routing-rule form share these tables so a state reads the same everywhere.
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

from campaigns import fields
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
    "inline": _l("Đã trả lời ngay"),  # in the webhook's answer (TwiML, the simulator)
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


def label(table: dict[str, Any], key: str | None) -> str:
    """The label of ``key`` in ``table`` (the key itself when unknown, "" for None)."""
    return "" if key is None else str(table.get(key, key))


def field_problem(problem: fields.Invalid) -> str:
    """What is wrong with a campaign's field, in the user's language."""
    return str(CAMPAIGN_FIELD_PROBLEMS[problem.code]) % problem.params
