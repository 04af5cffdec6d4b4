"""Roles, scopes and what each may do: one table, enforced on the server for every view and call.

Queues a tip can be routed to: ``hotline_111``, ``border_guard``, ``police_province`` and one
``police_<district>`` queue per area (see ``gateway.tips.routing``).
"""

from __future__ import annotations

from dataclasses import dataclass

ADMIN = "admin"
EDITOR = "editor"  # information department: contacts, audiences, drafts
APPROVER = "approver"  # department leader: approves others' drafts
POLICE = "police"  # provincial police, or one district's when scoped
BORDER_GUARD = "border_guard"
HOTLINE_111 = "hotline_111"
ROLES = (ADMIN, EDITOR, APPROVER, POLICE, BORDER_GUARD, HOTLINE_111)

TIP_ROLES = frozenset({ADMIN, POLICE, BORDER_GUARD, HOTLINE_111})
CAMPAIGN_ROLES = frozenset({ADMIN, EDITOR, APPROVER})

PERMISSIONS: dict[str, frozenset[str]] = {
    "campaigns.view": CAMPAIGN_ROLES,
    "campaigns.edit": frozenset({ADMIN, EDITOR}),
    "campaigns.approve": frozenset({APPROVER}),
    "campaigns.operate": frozenset({ADMIN, EDITOR, APPROVER}),  # launch, pause, resume, cancel
    "campaigns.kill_switch": frozenset({ADMIN, APPROVER}),
    "contacts.view": CAMPAIGN_ROLES,
    "contacts.edit": frozenset({ADMIN, EDITOR}),
    "optouts.edit": frozenset({ADMIN, EDITOR, POLICE, BORDER_GUARD, HOTLINE_111}),
    "tips.view": TIP_ROLES,
    "tips.work": TIP_ROLES,  # triage, assign, note, reply, hand off, close
    "tips.reveal": TIP_ROLES,
    "tips.log_call": TIP_ROLES,
    "rules.view": TIP_ROLES,
    "rules.edit": frozenset({ADMIN}),
    "users.manage": frozenset({ADMIN}),
    "areas.manage": frozenset({ADMIN}),
    "audit.view": frozenset({ADMIN}),
    "metrics.view": frozenset({ADMIN}),
    # The department's results report: figures across every queue and both routes, never a
    # tip's text or number; the admin and the department's leader (the approver) build it.
    "reports.results": frozenset({ADMIN, APPROVER}),
    # The citizen phone shows inbound messages of every queue and sends as any number: a demo
    # tool for admins only, never in production (gateway.simulator_views).
    "simulator.use": frozenset({ADMIN}),
    "account.self": frozenset(ROLES),  # one's own password and second factor
}

# What a person needs to take each campaign lifecycle action (``campaigns.lifecycle``), on the
# admin pages and in the API alike. "complete" and "edit" are not actions people click.
CAMPAIGN_ACTIONS: dict[str, str] = {
    "submit": "campaigns.edit",
    "approve": "campaigns.approve",
    "reject": "campaigns.approve",
    "schedule": "campaigns.operate",
    "launch": "campaigns.operate",
    "request": "campaigns.operate",  # a delegated campaign's letters went out
    "pause": "campaigns.operate",
    "resume": "campaigns.operate",
    "cancel": "campaigns.operate",
}


def allowed(role: str | None, permission: str) -> bool:
    """Whether ``role`` holds ``permission`` (unknown permissions are refused)."""
    return role is not None and role in PERMISSIONS.get(permission, frozenset())


def default_scope(role: str) -> str | None:
    """The queue a user of ``role`` works when no scope is given."""
    return {BORDER_GUARD: "border_guard", HOTLINE_111: "hotline_111"}.get(role)


@dataclass(frozen=True)
class QueueScope:
    """The queues a role and scope see: every queue, these names, or names with these prefixes."""

    every: bool = False
    names: frozenset[str] = frozenset()
    prefixes: tuple[str, ...] = ()

    def covers(self, queue: str) -> bool:
        """Whether ``queue`` is one of these."""
        return self.every or queue in self.names or queue.startswith(self.prefixes)


def queue_scope(role: str | None, scope: str | None) -> QueueScope:
    """The queues a user of ``role`` and ``scope`` may see, as data an SQL condition can use.

    Admins see every queue; provincial police (scope ``police_province`` or none) see every
    police queue; a district officer sees only their district's queue; border guard and 111
    staff see their own queue.
    """
    if role == ADMIN:
        return QueueScope(every=True)
    if role == POLICE:
        if scope in (None, "", "police_province"):
            return QueueScope(prefixes=("police_",))
        return QueueScope(names=frozenset({scope or ""}))
    if role == BORDER_GUARD:
        return QueueScope(names=frozenset({scope or "border_guard"}))
    if role == HOTLINE_111:
        return QueueScope(names=frozenset({scope or "hotline_111"}))
    return QueueScope()


def may_see_queue(role: str | None, scope: str | None, queue: str) -> bool:
    """Whether a user of ``role`` and ``scope`` may see tips whose queue is ``queue``."""
    return queue_scope(role, scope).covers(queue)
