"""What the tip forms (the public one and the call log) read the same way."""

from __future__ import annotations

from flask import abort, request
from flask_babel import gettext as _


def read_body(max_request_bytes: int, max_chars: int, missing: str) -> tuple[str, list[str]]:
    """Cap the request's size (413 past it), then read the ``body`` field.

    Args:
        max_request_bytes: the largest request accepted, even when chunked without a length.
        max_chars: the longest body accepted.
        missing: the message shown when the body is empty.
    Returns:
        the stripped body and the errors found in it (empty or too long).
    """
    if (request.content_length or 0) > max_request_bytes:
        abort(413)
    request.max_content_length = max_request_bytes  # also caps chunked bodies without a length
    body = request.form.get("body", "").strip()
    if not body:
        return body, [missing]
    if len(body) > max_chars:
        return body, [_("Nội dung quá dài (tối đa %(n)s ký tự).", n=max_chars)]
    return body, []
