"""The ``loa`` command (a Flask CLI group, so ``flask --app wsgi …`` offers the same commands)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from campaigns import encoding, localtime, phones
from gateway import db
from gateway.roles import ROLES


def _settings() -> Any:
    return current_app.config["LOA_SETTINGS"]


@click.group("db", help="Database migrations.")
def db_group() -> None:
    pass


@db_group.command("upgrade", help="Apply every migration (creates the database if needed).")
@with_appcontext
def db_upgrade() -> None:
    from gateway import migrate, var

    settings = _settings()
    if settings.effective_database_url.startswith("sqlite"):
        var.ensure_var_dir(settings.var_dir)
    migrate.upgrade(settings.effective_database_url)
    click.echo("database migrated to the latest version")


@db_group.command("check", help="Fail if the models hold changes no migration describes.")
@with_appcontext
def db_check() -> None:
    from gateway import migrate

    migrate.check(_settings().effective_database_url)
    click.echo("models and migrations agree")


@db_group.command(
    "recount",
    help="Rebuild the delivery counters from the deliveries (all campaigns or one), and the tip "
    "counters from the tips (unless --campaign is given).",
)
@click.option("--campaign", "campaign_id", type=int, default=None, help="Only this campaign.")
@with_appcontext
def db_recount(campaign_id: int | None) -> None:
    from campaigns import reports

    # The triggers keep the counters exact; this repairs them after a hand edit of the table.
    session = db.session()
    reports.recount(session, campaign_id)
    session.commit()
    click.echo("delivery counters recounted")
    if campaign_id is None:
        from gateway.tips import count_triggers

        count_triggers.recount(session.connection())
        session.commit()
        click.echo("tip counters recounted")


@click.group("users", help="Manage users.")
def users_group() -> None:
    pass


@users_group.command("create", help="Create a user and print the password.")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--scope", default=None, help="The queue a tip-line user works, e.g. police_ke_sach.")
@click.option(
    "--password",
    default=None,
    help="At least 12 characters, not guessable; generated when omitted.",
)
@click.option("--name", default="", help="Display name.")
@click.option("--phone", default=None, help="Mobile number for on-duty alerts.")
@click.option(
    "--totp",
    is_flag=True,
    help="Turn on two-factor sign-in now: print the otpauth:// URI and recovery codes to hand over.",
)
@with_appcontext
def users_create(
    email: str,
    role: str,
    scope: str | None,
    password: str | None,
    name: str,
    phone: str | None,
    totp: bool,
) -> None:
    from gateway import db, mfa, passwords
    from gateway.auth import create_user

    if password is not None and (problem := passwords.problem(password, (email, name))):
        raise click.ClickException(PASSWORD_PROBLEMS[problem])
    _check_scope(role, scope)
    try:
        user, pw = create_user(email, role, password=password, scope=scope, name=name, phone=phone)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"created {user.email} role={user.role} scope={user.scope or '-'} password={pw}")
    if totp:
        s = db.session()
        uri = mfa.provision(user)
        codes = mfa.new_recovery_codes(s, user)
        s.commit()
        click.echo(f"totp={uri}")
        click.echo("recovery codes (each works once): " + " ".join(codes))


def _check_scope(role: str, scope: str | None) -> None:
    """Refuse a scope that is not a known queue of the role's kind, and a police user without
    one: forgetting ``--scope`` would quietly give an officer every police queue."""
    from gateway import db
    from gateway.admin import known_queues, scope_problem

    queues = known_queues(db.session())
    if role == "police" and not scope:
        police = ", ".join(q for q in queues if q.startswith("police_"))
        raise click.ClickException(
            "a police user needs --scope: police_province for the whole province, or one "
            f"area's police queue ({police})"
        )
    if scope_problem(role, scope, queues) is not None:
        fitting = [q for q in queues if scope_problem(role, q, queues) is None]
        hint = f"one of {', '.join(fitting)}" if fitting else "no scope"
        raise click.ClickException(f"--scope {scope} does not fit role {role}: use {hint}")


PASSWORD_PROBLEMS = {
    "too_short": "the password must have at least 12 characters (a sentence is fine)",
    "too_long": "the password must have at most 128 characters",
    "guessable": "the password is too easy to guess (a common password, a keyboard walk, "
    "or the user's own name or email); choose a longer, less predictable one",
}


@click.group("tokens", help="API bearer tokens.")
def tokens_group() -> None:
    pass


@tokens_group.command("create", help="Create an API token for a user and print it once.")
@click.argument("email")
@click.option("--name", default="", help="What the token is for.")
@click.option(
    "--expires-days",
    type=click.IntRange(min=0),
    default=90,
    show_default=True,
    help="Days until the token expires; 0 for never (discouraged).",
)
@with_appcontext
def tokens_create(email: str, name: str, expires_days: int) -> None:
    from sqlalchemy import select

    from gateway.auth import new_token
    from gateway.models import User

    s = db.session()
    user = s.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise click.ClickException(f"no user {email}")
    _, secret = new_token(user, name, expires_days)
    s.commit()
    if expires_days == 0:
        click.echo("warning: this token never expires; revoke it when no longer needed", err=True)
    click.echo(secret)


def _local(value: Any) -> str:
    """A UTC time in Loa's time zone, to the minute; ``-`` for none."""
    if value is None:
        return "-"
    return str(value.astimezone(localtime.zone()).strftime("%Y-%m-%d %H:%M"))


@tokens_group.command("list", help="List API tokens (never their secrets), of one user or all.")
@click.argument("email", required=False)
@with_appcontext
def tokens_list(email: str | None) -> None:
    from sqlalchemy import select

    from campaigns.db import utcnow
    from gateway.auth import token_state
    from gateway.models import ApiToken, User

    query = select(ApiToken, User.email).join(User, ApiToken.user_id == User.id)
    if email:
        query = query.where(User.email == email.strip().lower())
    now = utcnow()
    click.echo("id\tuser\tname\tcreated\tlast used\texpires\tstate")
    for token, user_email in db.session().execute(query.order_by(ApiToken.id)):
        fields = (
            str(token.id),
            user_email,
            token.name or "-",
            _local(token.created_at),
            _local(token.last_used_at),
            _local(token.expires_at) if token.expires_at else "never",
            token_state(token, now),
        )
        click.echo("\t".join(fields))


@tokens_group.command("revoke", help="Revoke an API token by its id (see `loa tokens list`).")
@click.argument("token_id", type=int)
@with_appcontext
def tokens_revoke(token_id: int) -> None:
    from gateway.auth import revoke_token
    from gateway.models import ApiToken

    s = db.session()
    token = s.get(ApiToken, token_id)
    if token is None:
        raise click.ClickException(f"no token {token_id}")
    if not revoke_token(token):
        click.echo(f"token {token_id} was revoked already")
        return
    s.commit()
    click.echo(f"token {token_id} revoked")


@click.group("areas", help="Places: districts, communes and wards, with aliases and police queues.")
def areas_group() -> None:
    pass


@areas_group.command(
    "load", help="Load areas from a preset (soc-trang-2024, can-tho-2025) or a CSV file."
)
@click.argument("source")
@with_appcontext
def areas_load(source: str) -> None:
    from campaigns import area_files

    s = db.session()
    try:
        report = area_files.load(s, source)
    except area_files.AreaFileError as exc:
        s.rollback()
        for problem in exc.problems:
            click.echo(problem, err=True)
        raise click.ClickException(
            f"{source} refused: {len(exc.problems)} problem(s), nothing loaded"
        ) from None
    s.commit()
    for name in report.added:
        click.echo(f"added   {name}")
    for name in report.changed:
        click.echo(f"changed {name}")
    click.echo(
        f"{len(report.added)} added, {len(report.changed)} changed, {report.unchanged} unchanged"
    )


@click.command("phone", help="Normalise phone numbers; one JSON line each.")
@click.argument("numbers", nargs=-1, required=True)
def phone_cmd(numbers: tuple[str, ...]) -> None:
    for raw in numbers:
        click.echo(json.dumps(phones.normalize(raw).as_dict(), ensure_ascii=False))


@click.command("sms-info", help="Encoding and segments of SMS texts; one JSON line each.")
@click.argument("texts", nargs=-1, required=True)
def sms_info_cmd(texts: tuple[str, ...]) -> None:
    for text in texts:
        click.echo(json.dumps(encoding.analyze(text).as_dict(), ensure_ascii=False))


@click.command("worker", help="Run an RQ worker (with the scheduler) on Loa's queues.")
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.option("--queues", "queue_names", default="replies,bulk,events", show_default=True)
@with_appcontext
def worker_cmd(burst: bool, queue_names: str) -> None:
    from workers.runtime import run_worker

    run_worker(_settings(), [q.strip() for q in queue_names.split(",") if q.strip()], burst=burst)


@click.command("smpp", help="Hold one SMPP bind: send what workers hand over, receive tips.")
@click.option(
    "--mode",
    type=click.Choice(["transceiver", "transmitter", "receiver"]),
    default=None,
    help="The bind (default: transceiver, from LOA_SMPP_BIND_MODE).",
)
def smpp_cmd(mode: str | None) -> None:
    # No app context: the link is a long-lived process that stores tips without Flask.
    from gateway.settings import SettingsError, load_settings
    from gateway.smpp_link import serve

    try:
        settings = load_settings()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    serve(settings, mode)


@click.command("demo", help="Create the demo users and data once (skipped when present).")
@click.option("--contacts", default=300, show_default=True)
@with_appcontext
def demo_cmd(contacts: int) -> None:
    from gateway.demo import seed

    for line in seed(contacts=contacts):
        click.echo(line)


@click.group("retention", help="Anonymise tips, replies and deliveries past their period.")
def retention_group() -> None:
    pass


@retention_group.command(
    "run", help="Anonymise now what LOA_RETENTION_*_DAYS have expired (audited, counts only)."
)
@click.option("--dry-run", is_flag=True, help="Only count what would be anonymised.")
@with_appcontext
def retention_run(dry_run: bool) -> None:
    from gateway import retention

    periods = retention.Periods.from_settings(_settings())
    report = retention.run(db.session(), periods, dry_run=dry_run)
    verb = "would anonymise" if dry_run else "anonymised"
    click.echo(
        f"{verb}: {report.tips} tips ({report.notes} notes), {report.replies} replies, "
        f"{report.deliveries} deliveries; {report.held} tips kept by a legal hold"
    )


@click.command(
    "backup",
    help="Copy the database to PATH while Loa runs (SQLite: online backup "
    "API; PostgreSQL: pg_dump -Fc).",
)
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def backup_cmd(path: Path) -> None:
    from gateway import audit, backup

    try:
        done = backup.backup(_settings().effective_database_url, path)
    except backup.BackupError as exc:
        raise click.ClickException(str(exc)) from None
    s = db.session()
    audit.record("db.backup", object_type="database", details={"file": path.name}, session=s)
    s.commit()
    click.echo(done)


@click.command(
    "restore",
    help="Replace the database with the backup at PATH and migrate it; "
    "refused while workers run unless --force.",
)
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Restore even while workers are registered in Redis.")
@with_appcontext
def restore_cmd(path: Path, force: bool) -> None:
    from gateway import backup

    settings = _settings()
    db.engine().dispose()  # this process holds no connection to the database being replaced
    try:
        done = backup.restore(settings.effective_database_url, path, settings.redis_url, force)
    except backup.BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(done)


COMMANDS = (
    db_group,
    users_group,
    areas_group,
    tokens_group,
    phone_cmd,
    sms_info_cmd,
    worker_cmd,
    smpp_cmd,
    demo_cmd,
    retention_group,
    backup_cmd,
    restore_cmd,
)


def init_app(app: Flask) -> None:
    for cmd in COMMANDS:
        app.cli.add_command(cmd)


def _create_app() -> Flask:
    from gateway import create_app
    from gateway.settings import SettingsError

    try:
        return create_app()
    except SettingsError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)


def main() -> None:
    """Entry point of the ``loa`` console script."""
    FlaskGroup(
        create_app=_create_app, add_default_commands=True, help="Loa: SMS campaigns and tips."
    )()
