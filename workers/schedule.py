"""The periodic job that launches scheduled campaigns when their time comes.

``run_due`` runs every 30 s (``workers.runtime.PERIODIC``). For each scheduled campaign whose
time has passed it applies the lifecycle's ``launch`` (a conditional UPDATE, so two overlapping
runs, or a person clicking "launch" at the same moment, launch it once), arms next year's copy of
a yearly campaign in the same transaction, commits, and only then enqueues
``workers.dispatch.launch`` with the deterministic job id ``launch-{id}``.

A campaign whose approval no longer matches (someone changed it behind the lifecycle's back) is
not launched: it goes back to draft, which voids the approval, and the editor sees why.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns import lifecycle
from campaigns.db import utcnow
from campaigns.models import Campaign
from gateway import jobs
from workers import runtime

log = logging.getLogger("loa.worker")


def enqueue_launch(campaign_id: int) -> str:
    """Enqueue the dispatch engine's launch of a campaign unless it is already queued."""
    return jobs.LAUNCH.enqueue(runtime.redis(), campaign_id, key=(campaign_id,))


def run_due(now: dt.datetime | None = None) -> list[int]:
    """Launch every scheduled campaign whose time has come.

    Args:
        now: the current time (tests pass one).

    Returns:
        The ids of the campaigns this run launched.
    """
    now = now or utcnow()
    launched: list[int] = []
    with runtime.session() as s:
        due_ids = list(
            s.scalars(
                select(Campaign.id)
                .where(Campaign.status == lifecycle.SCHEDULED, Campaign.scheduled_at <= now)
                .order_by(Campaign.scheduled_at, Campaign.id)
            )
        )
        for campaign_id in due_ids:
            campaign = s.get(Campaign, campaign_id)
            if campaign is None or not lifecycle.is_due(campaign, now):
                continue
            try:
                lifecycle.transition(s, campaign, lifecycle.LAUNCH, None, now=now)
            except lifecycle.IllegalTransition as exc:
                s.rollback()
                if exc.code == "approval_void":
                    _back_to_draft(s, campaign_id, now)
                else:
                    log.info("campaign %s not launched: %s", campaign_id, exc.code)
                continue
            if campaign.recurrence == "yearly":
                copy = lifecycle.copy_for_next_year(s, campaign, now)
                log.info("campaign %s: next yearly run armed as %s", campaign_id, copy.id)
            s.commit()
            launched.append(campaign_id)
    for campaign_id in launched:
        enqueue_launch(campaign_id)
        log.info("campaign %s launched by schedule", campaign_id)
    return launched


def _back_to_draft(s: Session, campaign_id: int, now: dt.datetime) -> None:
    campaign = s.get(Campaign, campaign_id)
    if campaign is None:
        return
    try:
        lifecycle.transition(s, campaign, lifecycle.EDIT, None, now=now)
        campaign.rejection_reason = "Chiến dịch đã thay đổi sau khi được duyệt; cần duyệt lại."
        s.commit()
        log.warning("campaign %s changed after approval: back to draft", campaign_id)
    except lifecycle.IllegalTransition:
        s.rollback()


def run_retention() -> dict[str, int | bool]:
    """The periodic retention run (hourly; ``gateway.retention``): anonymise what is past its
    period and audit the counts. Overlapping runs are harmless: each chunk skips rows already
    anonymised."""
    from gateway import retention

    with runtime.session() as s:
        report = retention.run(s, retention.Periods.from_settings(runtime.settings()))
    return report.as_dict()
