"""The results report over the API: ``GET /api/v1/reports/results?from=…&to=…`` (issue 13).

The same figures as ``/reports/ket-qua`` (``gateway.results``), as JSON with codes instead of
labels; never a tip's text or a tipster's number.
"""

from __future__ import annotations

from typing import Any

from flask import jsonify, request

from gateway import db, results
from gateway.api import bp, document, error
from gateway.auth import require


@bp.get("/reports/results")
@require("reports.results", api=True)
def report_results() -> Any:
    """The results report of a period."""
    try:
        since, until = results.read_period(request.args)
    except results.PeriodError as exc:
        return error(422, str(exc))
    return jsonify(results.build(db.session(), since, until))


document(
    "/reports/results",
    "get",
    {
        "summary": "The department's results report for a period",
        "description": (
            "Broadcasts of both routes (`direct`: Loa sent, `accepted_by_smsc`; `operators`: "
            "the operators sent, `reported_by_operators`), tips by channel, queue, area and week "
            "(weeks with a broadcast marked), results and time to first action by queue. "
            "Without `from` and `to`: the plan's peak, 1 July – 30 September. Figures only."
        ),
        "tags": ["reports"],
        "parameters": [
            {
                "name": n,
                "in": "query",
                "schema": {"type": "string", "format": "date"},
                "description": d,
            }
            for n, d in (
                ("from", "the first local day of the period (YYYY-MM-DD)"),
                ("to", "the last local day of the period (YYYY-MM-DD), at most 731 days later"),
            )
        ],
        "responses": {
            "200": {
                "description": "the report",
                "content": {"application/json": {"schema": {"type": "object"}}},
            },
            "422": {"description": "a bad period"},
        },
    },
)
