"""flask commands: create-user, reset-two-factor, create-api-key, demo-data, worker,
send-test-mail, check-settings, dev."""

from __future__ import annotations

import os
import secrets

import click
from flask import Flask, current_app
from flask.cli import ScriptInfo, with_appcontext
from sqlalchemy.engine import make_url

from . import accesslog, devmail, notifications, scheduler, staff, two_factor
from . import config as settings
from .validation import DomainError

SECRET_SETTINGS = frozenset({"SECRET_KEY", "SECRET_KEY_FALLBACKS", "MAIL_PASSWORD"})


@click.command("create-user")
@click.argument("email")
@click.option("--role", type=click.Choice([r.value for r in staff.Role]), default="editor",
              show_default=True)
@with_appcontext
def create_user_command(email: str, role: str) -> None:
    """Create an ops user. The password comes from STATUSPAGE_PASSWORD or a prompt."""
    password = os.environ.get("STATUSPAGE_PASSWORD")
    if not password:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = staff.create_user(email, password, role=role, actor="cli")
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"Created {user.role} {user.email}.")


@click.command("reset-two-factor")
@click.argument("email")
@with_appcontext
def reset_two_factor_command(email: str) -> None:
    """Take a user's second factor away (a lost phone and lost recovery codes); they sign in
    with the password alone, and set it up again when it is required."""
    user = staff.find_user_by_email(email)
    if user is None:
        raise click.ClickException(f"No user {email}.")
    two_factor.reset_two_factor(user, actor="cli")
    click.echo(f"{user.email} now signs in with the password alone.")


@click.command("create-api-key")
@click.argument("name")
@click.option("--scope", type=click.Choice([s.value for s in staff.ApiKeyScope]),
              default="read", show_default=True)
@click.option("--subscribers", is_flag=True,
              help="Let the key reach subscriber addresses (list; add and remove with write).")
@with_appcontext
def create_api_key_command(name: str, scope: str, subscribers: bool) -> None:
    """Create a management API key and print it; it is shown this once only."""
    try:
        key, token = staff.create_api_key(name, scope=scope, subscribers=subscribers,
                                          actor="cli")
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"Created {key.scope_label} API key “{key.name}” ({key.prefix}…). "
               "Copy it now; it is not shown again:")
    click.echo(token)


@click.command("demo-data")
@click.option("--login-password", envvar="STATUSPAGE_DEMO_PASSWORD", default=None,
              help="Password of the demo ops login (random unless given).")
@with_appcontext
def demo_data_command(login_password: str | None) -> None:
    """Fill an empty database with a believable demo page; does nothing the second time."""
    from . import demo

    try:
        result = demo.load(login_password=login_password or secrets.token_urlsafe(9))
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    if result.created:
        click.echo("Demo data loaded.")
        click.echo(f"Demo ops login: {result.email} / {result.password}  "
                   "(open /admin to sign in)")
    else:
        click.echo("The database already has data; demo data left as it is.")
        click.echo(f"Sign in with the login printed the first time ({result.email}), or make "
                   "one: flask --app wsgi create-user EMAIL --role admin")


@click.command("worker")
@click.option("--once", is_flag=True, help="Run every job once and exit.")
@with_appcontext
def worker_command(once: bool) -> None:
    """Run the scheduler's jobs (maintenance transitions, notifications)."""
    app = current_app._get_current_object()
    if once:
        scheduler.run_once(app)
        return
    click.echo(f"Worker running {len(scheduler.JOBS)} jobs; Ctrl+C stops it.")
    scheduler.run_forever(app)


@click.command("send-test-mail")
@click.argument("address")
@with_appcontext
def send_test_mail_command(address: str) -> None:
    """Send one email to ADDRESS now through the configured relay, to check the MAIL_* settings."""
    try:
        message_id = notifications.send_test_email(address)
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    config = current_app.config
    click.echo(f"Sent a test email to {address} through {config['MAIL_SERVER']}:"
               f"{config['MAIL_PORT']} (Message-ID {message_id}).")


@click.command("check-settings")
@with_appcontext
def check_settings_command() -> None:
    """Print the effective settings (secrets hidden) and fail if one is unusable."""
    for setting in settings.SETTINGS:
        value = current_app.config.get(setting.key)
        if value and setting.env in SECRET_SETTINGS:
            value = "(set)"
        elif value and setting.env == "DATABASE_URL":
            # A database URL may carry a password.
            value = make_url(value).render_as_string(hide_password=True)
        click.echo(f"{setting.env} = {value!r}")


@click.command("dev")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
@click.option("--reload/--no-reload", default=True, show_default=True)
def dev_command(host: str, port: int, reload: bool) -> None:
    """Serve the page for development, with the scheduler (and the mail catcher when
    DEV_MAIL_CATCHER is set) in this process."""
    from werkzeug.serving import run_simple

    app = click.get_current_context().ensure_object(ScriptInfo).load_app()
    app.config["SCHEDULER_IN_PROCESS"] = True
    # Under the reloader the parent only watches files; the child serves and runs the jobs.
    if not reload or os.environ.get("WERKZEUG_RUN_MAIN") == "true":
        if app.config["DEV_MAIL_CATCHER"]:
            _start_mail_catcher(app)
        scheduler.start_in_background(app)
    run_simple(host, port, app, use_reloader=reload, use_debugger=False, threaded=True,
               request_handler=accesslog.DevRequestHandler)


def _start_mail_catcher(app: Flask) -> None:
    try:
        catcher = devmail.start_catcher(app)
    except devmail.CatcherError as exc:
        # The page still serves; mail goes to whatever listens there instead.
        click.secho(f"{exc} Caught mail will not show in the admin.", fg="yellow", err=True)
        return
    click.echo(f"Mail catcher on {catcher.host}:{catcher.port}: read the emails at "
               "/admin/mail")


def init_app(app: Flask) -> None:
    """Register the commands."""
    for command in (create_user_command, reset_two_factor_command, create_api_key_command,
                    demo_data_command,
                    worker_command,
                    send_test_mail_command, check_settings_command, dev_command):
        app.cli.add_command(command)
