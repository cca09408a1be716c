"""The inspector: the operator's pages, server-rendered, behind the read API's token.

What arrived, what was refused and why, what a delivery changed in its channel's terms, what is held
now, and a re-apply of a rejected delivery after a fix. A login form takes the ``[api] token`` and sets a
signed session cookie (Secure, HttpOnly, SameSite=Strict, its path the inspector's); every form that
changes anything carries a CSRF token (Flask-WTF). No front-end build: Jinja templates and a small CSS
and JS file in the package; the pages work without JavaScript, which only adds the live list.

Bodies are never loaded whole: a kept body is streamed from the database (SQLite's incremental blob
I/O, PostgreSQL ``substr`` slices) through ijson, and only the lines of the page asked for are kept. A
page past the first starts at its own byte offset, from the body's page map (recorded once, the first
time it is paged), instead of parsing everything before it.

Actions on one delivery are entries of :data:`DELIVERY_ACTIONS` (re-apply is the first): adding one is
adding an entry, with its form fields; the page shows those that apply to the delivery.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO
from urllib.parse import urlsplit

import ijson
import sqlalchemy as sa
from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

from . import storage
from .channels import CHANNELS, erp, s360, servicemobility, stock
from .cli import NotReapplicable, reapply
from .config import Config
from .errors import ReceiverError
from .web import secrets_equal, utc_iso

PAGE_ROWS = 50  # deliveries per page of the list
LIVE_ROWS = 100  # new deliveries one poll brings at most
BODY_LINES = 400  # lines of a body per page
RAW_BYTES = 32 * 1024  # bytes per page of a body that is not JSON
VALUE_CHARS = 300  # a longer string value is cut on screen
MAX_ANCHORS = 20_000  # containers whose start line a body's page map keeps (to find a path's page)
OUTCOMES = ("accepted", "duplicate", "rejected")

csrf = CSRFProtect()


# --- actions on one delivery -----------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """A form field an action asks for: free text, or one of ``choices(config)`` (a drop-down)."""

    name: str
    label: str
    placeholder: str = ""
    choices: Callable[[Config], list[str]] | None = None


@dataclass(frozen=True)
class Done:
    """What an action did: a message for the operator, and the delivery to show next (None: this one)."""

    message: str
    ok: bool
    delivery: int | None = None


@dataclass(frozen=True)
class DeliveryAction:
    """A button on a delivery's page: shown when ``applies(delivery row, configuration)``; ``run`` gets the
    store, the configuration, the row and the submitted form, and says what it did. Every action is a POST
    with the CSRF token; it runs only for a logged-in operator."""

    name: str
    label: str
    explanation: str
    applies: Callable[[Any, Config], bool]
    run: Callable[[storage.Store, Config, Any, dict[str, str]], Done]
    fields: tuple[Field, ...] = ()


def _run_reapply(store: storage.Store, config: Config, row: Any, _form: dict[str, str]) -> Done:
    try:
        receipt = reapply(store, config, row.id)
    except NotReapplicable as exc:
        return Done(str(exc), ok=False)
    except ReceiverError as exc:
        problems = f" ({len(exc.problems)} problem(s))" if exc.problems else ""
        return Done(f"Refused again, {exc.status}: {exc.message}{problems}. Nothing was applied.", ok=False)
    return Done(f"Re-applied as delivery {receipt.delivery}: {receipt.outcome}, {receipt.counts_name} "
                f"{json.dumps(receipt.counts)}.", ok=True, delivery=receipt.delivery)


def _run_resend(store: storage.Store, config: Config, row: Any, form: dict[str, str]) -> Done:
    from . import resend  # the sending side (it builds the platforms' headers): only this action needs it

    settings = config.inspector.resend_targets.get(form.get("target", ""))
    if settings is None:
        return Done(f"No resend target {form.get('target', '')[:40]!r} in [inspector.resend_targets]: "
                    "nothing was sent.", ok=False)
    try:
        target = _resend_target(settings)
    except OSError as exc:
        return Done(f"jwt_private_key of {form['target']!r}: {exc.strerror}. Nothing was sent.", ok=False)
    try:
        result = resend.resend(store, row.id, target)
    except resend.ResendError as exc:
        return Done(f"Resend to {form['target']!r} failed: {exc}.", ok=False)
    return Done(f"Sent to {form['target']!r} ({result.target}): it answered {result.status}; recorded as "
                f"resend {result.resend}.", ok=200 <= result.status < 300)


def _resend_target(settings: dict[str, Any]) -> Any:
    """A configured ``[inspector.resend_targets.NAME]`` as :class:`receiver.resend.Target`."""
    from pathlib import Path

    from .resend import Target

    key_file = settings.get("jwt_private_key") or ""
    ca_bundle: str | bool = False if settings.get("insecure") else (settings.get("ca_bundle") or True)
    return Target(str(settings["url"]), headers=dict(settings.get("headers") or {}),
                  s360_auth=str(settings.get("s360_auth") or "none"), jwt_secret=str(settings.get("jwt_secret") or ""),
                  jwt_private_key=Path(key_file).read_text() if key_file else "", ca_bundle=ca_bundle,
                  timeout=30.0)


def _target_names(config: Config) -> list[str]:
    return sorted(config.inspector.resend_targets)


DELIVERY_ACTIONS: list[DeliveryAction] = [
    DeliveryAction(
        "reapply", "Re-apply", "Run the stored body through its channel again (after a fix), as "
        "`inventory-receiver reapply` does; it is recorded as a new delivery.",
        # ERP messages are re-applied from their dead-letter queue, the AMQP way.
        applies=lambda row, _config: row.outcome == "rejected" and bool(row.body_kept) and row.channel != erp.NAME,
        run=_run_reapply),
    DeliveryAction(
        "resend", "Resend", "Send the stored body, byte for byte, to a receiver named in "
        "[inspector.resend_targets] with that target's credentials, as `inventory-receiver resend` does; "
        "every attempt is listed below.",
        # ERP messages came over AMQP; resend sends HTTP pushes only.
        applies=lambda row, config: bool(row.body_kept) and row.channel != erp.NAME
        and bool(config.inspector.resend_targets),
        run=_run_resend, fields=(Field("target", "to", choices=_target_names),)),
]


# --- the blueprint ------------------------------------------------------------------------------------


def init_app(app: Flask, config: Config, store: storage.Store) -> None:
    """Mount the inspector at ``[inspector] prefix`` (only with ``[api] token`` set)."""
    inspector = config.inspector
    secret = inspector.session_secret or hmac.new(config.api.token.encode(), b"receiver inspector session",
                                                  hashlib.sha256).hexdigest()
    app.config.update(
        SECRET_KEY=secret, SESSION_COOKIE_NAME="receiver_inspector", SESSION_COOKIE_PATH=inspector.prefix,
        SESSION_COOKIE_SECURE=True, SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Strict",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=inspector.session_hours),
        # Checked by the blueprint itself, so the channels' POST endpoints are untouched; a token lives
        # as long as the session (a page left open for hours can still re-apply).
        WTF_CSRF_CHECK_DEFAULT=False, WTF_CSRF_TIME_LIMIT=None,
    )
    csrf.init_app(app)
    app.register_blueprint(blueprint(config, store), url_prefix=inspector.prefix)


def _login_mark(token: str) -> str:
    """What the session holds for a login: a MAC of the token, so that a new token ends old sessions."""
    return hmac.new(token.encode(), b"receiver inspector login", hashlib.sha256).hexdigest()


def blueprint(config: Config, store: storage.Store) -> Blueprint:
    pages = Blueprint("inspector", __name__, template_folder="templates", static_folder="static")
    enabled = {name for name in CHANNELS if config.section(name).enabled}

    @pages.before_request
    def _guard() -> Any:
        if request.method == "POST":
            csrf.protect()  # CSRFError → 400 below, before anything runs
        if request.endpoint in ("inspector.login", "inspector.static"):
            return None
        if not secrets_equal(session.get("login"), _login_mark(config.api.token)):
            if request.method != "GET" or request.endpoint == "inspector.live":
                return _page("error.html", 401, title="Not logged in",
                             message="Log in again: nothing was changed.")
            return redirect(url_for("inspector.login", next=request.full_path))
        return None

    @pages.after_request
    def _headers(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = ("default-src 'none'; style-src 'self'; script-src 'self'; "
                                                       "img-src 'self'; connect-src 'self'; form-action 'self'; "
                                                       "frame-ancestors 'none'; base-uri 'none'")
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        if request.endpoint != "inspector.static":
            response.headers["Cache-Control"] = "no-store"
        return response

    @pages.errorhandler(CSRFError)
    def _csrf_refused(exc: CSRFError) -> Any:
        return _page("error.html", 400, title="Form expired or forged",
                     message=f"{exc.description} Nothing was changed: reload the page and try again.")

    @pages.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        return _page("error.html", exc.code or 500, title=exc.name, message=exc.description or "")

    @pages.app_template_filter("shown_json")
    def _shown_json(value: Any, indent: int | None = None) -> str:
        """JSON for a person to read: Turkish, German… text as it is, not as \\u escapes (Jinja escapes
        the result for HTML like any text)."""
        return json.dumps(value, ensure_ascii=False, indent=indent)

    @pages.context_processor
    def _shared() -> dict[str, Any]:
        return {"channels": sorted(enabled), "logged_in": "login" in session, "utc": _shown_time,
                "outcomes": OUTCOMES, "prefix": config.inspector.prefix}

    # --- login ---------------------------------------------------------------------------------------

    @pages.route("/login", methods=["GET", "POST"])
    def login() -> Any:
        target = _local(request.values.get("next"))
        if request.method == "POST":
            if secrets_equal(request.form.get("token", ""), config.api.token):
                session.clear()
                session.permanent = True
                session["login"] = _login_mark(config.api.token)
                return redirect(target or url_for("inspector.deliveries"))
            return _page("login.html", 401, error="That is not the token of [api] token.", next=target)
        return _page("login.html", 200, next=target)

    @pages.post("/logout")
    def logout() -> Any:
        session.clear()
        flash("Logged out.")
        return redirect(url_for("inspector.login"))

    # --- deliveries ------------------------------------------------------------------------------------

    @pages.get("/")
    def deliveries() -> Any:
        filters = _filters(enabled)
        before = _int_arg("before")
        with store.read() as conn:
            rows = _deliveries(conn, filters, before=before, limit=PAGE_ROWS + 1)
        older = rows[PAGE_ROWS - 1].id if len(rows) > PAGE_ROWS else None
        rows = rows[:PAGE_ROWS]
        live_url = url_for("inspector.live", **filters.args()) if before is None else None
        return _page("deliveries.html", 200, rows=rows, filters=filters, older=older, paged=before is not None,
                     newest=rows[0].id if rows else 0, live_url=live_url)

    @pages.get("/live")
    def live() -> Any:
        """New deliveries (after ``after``) as rendered rows, for the list's poll."""
        filters = _filters(enabled)
        after = _int_arg("after") or 0
        with store.read() as conn:
            rows = _deliveries(conn, filters, after=after, limit=LIVE_ROWS)
        html = render_template("_rows.html", rows=rows, utc=_shown_time)
        return jsonify({"html": html, "newest": rows[0].id if rows else after, "count": len(rows)})

    @pages.get("/deliveries/<int:delivery_id>")
    def delivery(delivery_id: int) -> Any:
        with store.read() as conn:
            row = _delivery_row(conn, delivery_id)
            if row is None:
                abort(404, description=f"No delivery {delivery_id} in the log.")
            details = storage.get_details(conn, delivery_id)
            changes = _changes(conn, row, details)
            resent = list(conn.execute(sa.select(storage.resends).where(storage.resends.c.delivery_id == delivery_id)
                                       .order_by(storage.resends.c.id.desc()).limit(100)))
        problems = list((details.problems if details is not None else None) or [])
        body = _body_view(store, row, problems, details)
        actions = [action for action in DELIVERY_ACTIONS if action.applies(row, config)]
        return _page("delivery.html", 200, row=row, headers=(details.headers if details is not None else None) or [],
                     problems=problems, changes=changes, body=body, actions=actions,
                     warnings=row.warnings or [], resends=resent, config=config)

    @pages.post("/deliveries/<int:delivery_id>/<action_name>")
    def act(delivery_id: int, action_name: str) -> Any:
        action = next((a for a in DELIVERY_ACTIONS if a.name == action_name), None)
        if action is None:
            abort(404, description=f"No action {action_name!r}.")
        with store.read() as conn:
            row = _delivery_row(conn, delivery_id)
        if row is None:
            abort(404, description=f"No delivery {delivery_id} in the log.")
        if not action.applies(row, config):
            flash(f"{action.label} does not apply to delivery {delivery_id}: nothing was done.", "error")
            return redirect(url_for("inspector.delivery", delivery_id=delivery_id))
        done = action.run(store, config, row, {f.name: request.form.get(f.name, "") for f in action.fields})
        flash(done.message, "ok" if done.ok else "error")
        return redirect(url_for("inspector.delivery", delivery_id=done.delivery or delivery_id))

    # --- what is held now --------------------------------------------------------------------------------

    @pages.get("/stock")
    def stock_state() -> Any:
        _require(enabled, stock.NAME)
        q = request.args.get("q", "").strip()
        rows: list[dict[str, Any]] = []
        if q:
            table = stock.table
            query = (sa.select(table).where(sa.or_(table.c.pn == q.translate(stock.DASHES),
                                                   table.c.connector_stock_id == q.lower()))
                     .order_by(table.c.connector_stock_id).limit(200))
            with store.read() as conn:
                rows = [stock.entry_json(row) for row in conn.execute(query)]
        return _page("stock.html", 200, q=q, rows=rows)

    @pages.get("/s360")
    def s360_state() -> Any:
        _require(enabled, s360.NAME)
        if wanted := _int_arg("id"):
            return redirect(url_for("inspector.s360_product", product_id=wanted))
        after = _int_arg("after")
        query = s360._product_query(document=False).order_by(s360.product_table.c.id).limit(PAGE_ROWS + 1)
        if after is not None:
            query = query.where(s360.product_table.c.id > after)
        with store.read() as conn:
            products = [s360.product_json(row) for row in conn.execute(query)]
        more = products[PAGE_ROWS - 1]["id"] if len(products) > PAGE_ROWS else None
        return _page("s360.html", 200, products=products[:PAGE_ROWS], more=more)

    @pages.get("/s360/products/<int(signed=True):product_id>")
    def s360_product(product_id: int) -> Any:
        _require(enabled, s360.NAME)
        changes, log = s360.change_table, storage.deliveries
        with store.read() as conn:
            row = conn.execute(s360._product_query(document=True).where(s360.product_table.c.id == product_id)).first()
            if row is None:
                abort(404, description=f"No S-360 product {product_id} is held.")
            history = list(conn.execute(
                sa.select(changes.c.delivery_id, changes.c.change, log.c.received_at)
                .join(log, log.c.id == changes.c.delivery_id)
                .where(changes.c.product_id == product_id).order_by(changes.c.delivery_id.desc()).limit(100)))
            diffs = _recorded(conn, [h.delivery_id for h in history if h.change == s360.CHANGED])
        versions = [{"delivery": h.delivery_id, "change": h.change, "at": h.received_at,
                     "diff": (diffs.get(h.delivery_id) or {}).get("diffs", {}).get(str(product_id))}
                    for h in history]
        return _page("s360_product.html", 200, product=s360.product_json(row), versions=versions)

    @pages.get("/servicemobility")
    def servicemobility_state() -> Any:
        _require(enabled, servicemobility.NAME)
        prod_num = request.args.get("prod_num", "").strip() or None
        events, usage = servicemobility.event_table, servicemobility.usage_table
        with store.read() as conn:
            summary = servicemobility.summarize(conn, prod_num)[:200]
            recent = list(conn.execute(sa.select(events.c.source, events.c.id, events.c.type, events.c.time,
                                                 events.c.delivery_id, events.c.delivery_count)
                                       .order_by(events.c.delivery_id.desc()).limit(PAGE_ROWS)))
            rows = []
            if prod_num:
                query = (sa.select(usage, servicemobility.current(usage).label("current"))
                         .where(usage.c.prod_num == prod_num)
                         .order_by(usage.c.delivery_id.desc(), usage.c.row_index).limit(200))
                rows = [servicemobility.usage_json(row) for row in conn.execute(query)]
        return _page("servicemobility.html", 200, prod_num=prod_num or "", summary=summary, events=recent,
                     usage=rows)

    @pages.get("/erp")
    def erp_state() -> Any:
        _require(enabled, erp.NAME)
        q = request.args.get("q", "").strip()
        table = erp.customer_table
        query = sa.select(table.c.id, table.c.name, table.c.status, table.c.delivery_id).order_by(table.c.id)
        if q:
            query = query.where(table.c.id >= q)
        with store.read() as conn:
            customers = list(conn.execute(query.limit(PAGE_ROWS)))
        return _page("erp.html", 200, q=q, customers=customers)

    @pages.get("/erp/customers/<customer_id>")
    def erp_customer(customer_id: str) -> Any:
        _require(enabled, erp.NAME)
        customers, subscriptions, links = erp.customer_table, erp.subscription_table, erp.engaged_party_table
        linked = sa.select(links.c.subscription_id).where(links.c.customer_id == customer_id)
        with store.read() as conn:
            row = conn.execute(sa.select(customers).where(customers.c.id == customer_id)).first()
            found = list(conn.execute(sa.select(subscriptions).where(subscriptions.c.id.in_(linked))
                                      .order_by(subscriptions.c.id).limit(200)))
            if row is None and not found:
                abort(404, description=f"No customer {customer_id} and no subscription naming it.")
            customer = erp._objects_json(conn, erp.CUSTOMER, [row])[0] if row is not None else None
            subs = erp._objects_json(conn, erp.SUBSCRIPTION, found)
        return _page("erp_customer.html", 200, customer_id=customer_id, customer=customer, subscriptions=subs)

    return pages


def _page(template: str, status: int, **context: Any) -> tuple[str, int]:
    return render_template(template, **context), status


def _require(enabled: set[str], channel: str) -> None:
    if channel not in enabled:
        abort(404, description=f"The {channel} channel is not enabled on this receiver.")


def _local(target: str | None) -> str | None:
    """A ``next`` to return to after login: a path on this server only (no open redirect)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


def _int_arg(name: str) -> int | None:
    text = request.args.get(name, "").strip()
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        abort(400, description=f"{name} must be a whole number, not {text[:40]!r}.")
    if not -(2**63) <= value < 2**63:
        abort(400, description=f"{name} is out of range.")
    return value


def _shown_time(moment: Any) -> str:
    """A stored time as the pages show it: UTC to the second."""
    if moment is None:
        return ""
    return utc_iso(moment)[:19].replace("T", " ") + " UTC"


# --- the list of deliveries -------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    channel: str = ""
    outcome: str = ""
    status: int | None = None
    since: str = ""  # YYYY-MM-DDTHH:MM (UTC), as a datetime-local field sends it
    until: str = ""
    q: str = ""

    def args(self) -> dict[str, Any]:
        values = {"channel": self.channel, "outcome": self.outcome, "status": self.status, "since": self.since,
                  "until": self.until, "q": self.q}
        return {k: v for k, v in values.items() if v not in ("", None)}


def _filters(enabled: set[str]) -> Filters:
    args = request.args
    channel = args.get("channel", "")
    outcome = args.get("outcome", "")
    if channel and channel not in CHANNELS:
        abort(400, description=f"No channel {channel[:40]!r}: one of {', '.join(sorted(CHANNELS))}.")
    if outcome and outcome not in OUTCOMES:
        abort(400, description=f"No outcome {outcome[:40]!r}: one of {', '.join(OUTCOMES)}.")
    for name in ("since", "until"):
        _moment(args.get(name, ""), name)
    q = args.get("q", "").strip()
    if "\x00" in q:
        abort(400, description="The text contains U+0000 (NUL), which no stored value holds.")
    return Filters(channel, outcome, _int_arg("status"), args.get("since", "").strip(),
                   args.get("until", "").strip(), q[:200])


def _moment(text: str, name: str) -> datetime | None:
    text = text.strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T"))
    except ValueError:
        abort(400, description=f"{name} must be a date and time (YYYY-MM-DDTHH:MM, UTC), not {text[:40]!r}.")
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _deliveries(conn: sa.Connection, filters: Filters, *, before: int | None = None, after: int | None = None,
                limit: int) -> list[Any]:
    """Deliveries newest first (keyset on id), without their bodies. A time range is turned into a range
    of ids first (the log is appended in time order; both bounds are one index lookup), so every filter
    but the text walks an index from the newest end."""
    log = storage.deliveries
    columns = [c for c in log.c if c.name != "raw_body"]
    query = sa.select(*columns, log.c.raw_body.is_not(None).label("body_kept"))
    if filters.channel:
        query = query.where(log.c.channel == filters.channel)
    if filters.outcome:
        query = query.where(log.c.outcome == filters.outcome)
    if filters.status is not None:
        query = query.where(log.c.status == filters.status)
    if since := _moment(filters.since, "since"):
        first = conn.execute(sa.select(log.c.id).where(log.c.received_at >= _stored_time(conn, since))
                             .order_by(log.c.received_at, log.c.id).limit(1))
        query = query.where(log.c.id >= (first.scalar() or 2**62))
    if until := _moment(filters.until, "until"):
        last = conn.execute(sa.select(log.c.id).where(log.c.received_at <= _stored_time(conn, until))
                            .order_by(log.c.received_at.desc(), log.c.id.desc()).limit(1))
        query = query.where(log.c.id <= (last.scalar() or 0))
    if filters.q:
        q = filters.q
        like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        matches = [log.c.reason.like(like, escape="\\"), log.c.remote_addr == q, log.c.body_sha256 == q.lower()]
        if q.isdigit() and len(q) < 19:
            matches.append(log.c.id == int(q))
        query = query.where(sa.or_(*matches))
    if before is not None:
        query = query.where(log.c.id < before)
    if after is not None:
        query = query.where(log.c.id > after)
        return list(reversed(list(conn.execute(query.order_by(log.c.id.asc()).limit(limit)))))
    return list(conn.execute(query.order_by(log.c.id.desc()).limit(limit)))


def _stored_time(conn: sa.Connection, moment: datetime) -> datetime:
    # SQLite keeps the log's times as naive UTC text; PostgreSQL compares aware ones.
    return moment if conn.dialect.name == "postgresql" else moment.replace(tzinfo=None)


def _delivery_row(conn: sa.Connection, delivery_id: int) -> Any:
    if not -(2**63) <= delivery_id < 2**63:
        return None
    log = storage.deliveries
    columns = [c for c in log.c if c.name != "raw_body"]
    query = sa.select(*columns, log.c.raw_body.is_not(None).label("body_kept")).where(log.c.id == delivery_id)
    return conn.execute(query).first()


def _recorded(conn: sa.Connection, ids: list[int]) -> dict[int, Any]:
    """delivery id → the changes its channel recorded, for these deliveries."""
    if not ids:
        return {}
    details = storage.delivery_details
    query = sa.select(details.c.delivery_id, details.c.changes).where(details.c.delivery_id.in_(ids))
    return {row.delivery_id: row.changes for row in conn.execute(query)}


# --- what one delivery changed --------------------------------------------------------------------------


def _changes(conn: sa.Connection, row: Any, details: Any) -> dict[str, Any] | None:
    """What an accepted delivery changed, in its channel's terms (None: nothing to show)."""
    if row.outcome != "accepted":
        return None
    recorded = (details.changes if details is not None else None) or {}
    if row.channel == s360.NAME:
        table = s360.change_table
        lists: dict[str, list[int]] = {}
        for change in (s360.NEW, s360.CHANGED):
            query = (sa.select(table.c.product_id).where(table.c.delivery_id == row.id, table.c.change == change)
                     .order_by(table.c.product_id).limit(storage.MAX_DETAILED))
            lists[change] = list(conn.execute(query).scalars())
        return {"products": lists, "diffs": recorded.get("diffs", {})}
    if row.channel == servicemobility.NAME:
        events, usage = servicemobility.event_table, servicemobility.usage_table
        joined = usage.join(events, sa.and_(events.c.source == usage.c.source, events.c.id == usage.c.event_id))
        mine = events.c.delivery_id == row.id
        rows = [servicemobility.usage_json(r) for r in conn.execute(
            sa.select(usage, servicemobility.current(usage).label("current")).select_from(joined).where(mine)
            .order_by(usage.c.row_index, usage.c.location_index, usage.c.item_index).limit(storage.MAX_DETAILED))]
        summary = [{"ProdNum": r.prod_num, "InQty": r.in_qty, "OutQty": r.out_qty, "ReportedDamagedQty": r.damaged,
                    "InventoryQty": r.on_hand, "usageRows": r.rows} for r in conn.execute(
            sa.select(usage.c.prod_num, sa.func.sum(usage.c.in_qty).label("in_qty"),
                      sa.func.sum(usage.c.out_qty).label("out_qty"),
                      sa.func.sum(usage.c.reported_damaged_qty).label("damaged"),
                      sa.func.sum(usage.c.inventory_qty).label("on_hand"), sa.func.count().label("rows"))
            .select_from(joined).where(mine).group_by(usage.c.prod_num).order_by(usage.c.prod_num)
            .limit(storage.MAX_DETAILED))]
        event = conn.execute(sa.select(events.c.source, events.c.id, events.c.type).where(mine)).first()
        return {"event": event, "usage": rows, "summary": summary}
    return recorded or None


# --- a body, a page at a time -------------------------------------------------------------------------------


@dataclass
class Line:
    number: int
    depth: int
    path: tuple[Any, ...]
    text: str
    label: str
    problems: list[str]


@dataclass
class BodyView:
    kept: bool
    lines: list[Line]
    page: int
    has_next: bool
    error: str | None = None  # the body is not JSON from here on
    raw: str | None = None  # a raw slice instead of lines (?raw=1)
    raw_offset: int = 0
    unplaced: list[dict[str, Any]] | None = None  # problems at paths the body does not have (a missing field)


class _Slices:
    """A kept body as a file, read in slices in the database (PostgreSQL): never whole in the process."""

    def __init__(self, conn: sa.Connection, delivery_id: int) -> None:
        self.conn, self.delivery_id, self.offset = conn, delivery_id, 0

    def read(self, size: int = -1) -> bytes:
        if size == 0:  # ijson reads 0 bytes first, to tell bytes from text: that must not consume anything
            return b""
        piece = storage.read_body_slice(self.conn, self.delivery_id, self.offset, size if size > 0 else 1 << 20)
        self.offset += len(piece)
        return piece


class _Prefixed:
    """``prefix`` then a stream: a page's open containers written out, then the body from the page on."""

    def __init__(self, prefix: bytes, stream: Any) -> None:
        self.prefix, self.stream = prefix, stream

    def read(self, size: int = -1) -> bytes:
        if size == 0:
            return b""
        if self.prefix:
            piece, self.prefix = (self.prefix, b"") if size < 0 else (self.prefix[:size], self.prefix[size:])
            return piece
        return bytes(self.stream.read(size))


@contextmanager
def body_stream(store: storage.Store, delivery_id: int, offset: int = 0, prefix: bytes = b"") -> Iterator[BinaryIO]:
    """The kept body of a delivery as a readable stream from ``offset`` (after ``prefix``): SQLite's
    incremental blob I/O, else slices."""
    with store.read() as conn:
        if conn.dialect.name == "sqlite":
            raw = conn.connection.driver_connection
            blob = raw.blobopen("deliveries", "raw_body", delivery_id, readonly=True)  # type: ignore[union-attr]
            try:
                blob.seek(offset)
                yield _Prefixed(prefix, blob) if prefix else blob  # type: ignore[misc]
            finally:
                blob.close()
        else:
            slices = _Slices(conn, delivery_id)
            slices.offset = offset
            yield _Prefixed(prefix, slices) if prefix else slices  # type: ignore[misc]


# --- the page map: where each page of a body starts -------------------------------------------------------

# One token with the commas, colons and blanks before it: a string (a key when a colon follows), a bracket,
# or a number / true / false / null.
_TOKEN = re.compile(rb'[\s,:]*(?:("(?:[^"\\]|\\.)*")(\s*:)?|([{}\[\]])|([^\s{}\[\]:,"]+))', re.DOTALL)
_SCALAR = re.compile(rb"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|true|false|null")
_CHUNK = 1 << 20


def page_map(stream: BinaryIO, lines_per_page: int) -> dict[str, Any] | None:
    """Scan a body once, without parsing its values (a tokenizer over 1 MiB chunks), and record for every
    page of :func:`json_lines`'s lines where it starts: the byte offset of its first line's token (its
    key's, inside an object) and the containers open there (as ``json_lines`` keeps them), plus the
    start line of each container at depth 0 to 2 (at most ``MAX_ANCHORS``), to find the page of a path.
    None when the body is not JSON (its pages are then read from the start)."""
    stack: list[list[Any]] = []
    pages: list[list[Any]] = []
    anchors: list[list[Any]] = []
    count = 0
    key_at = 0
    base = 0  # the body offset of ``buffer[0]``
    buffer = b""
    next_page = lines_per_page
    while True:
        chunk = stream.read(_CHUNK)
        final = not chunk
        buffer += chunk
        size = len(buffer)
        done = 0  # the end of the last token taken
        for match in _TOKEN.finditer(buffer):
            if match.start() != done:  # something that is no token: a string cut by the chunk's end, or not JSON
                if buffer[done:match.start()].lstrip(b" \t\r\n,:")[:1] != b'"':
                    return None
                break
            if not final and match.end() == size:
                break  # a token cut by the chunk's end: read on
            done = match.end()
            string, colon, bracket, scalar = match.groups()
            if colon is not None:  # a key
                if not stack or stack[-1][0] != "map":
                    return None
                stack[-1][1] = json.loads(string)
                key_at = base + match.start(1)
                continue
            if scalar is not None and not _SCALAR.fullmatch(scalar):
                return None
            closing = bracket == b"}" or bracket == b"]"
            if not stack and (count or closing):
                return None  # a second document, a stray closer
            if count == next_page:
                start = base + match.start(1 if string is not None else 3 if bracket is not None else 4)
                in_map = not closing and stack[-1][0] == "map"
                pages.append([key_at if in_map else start, [list(frame) for frame in stack]])
                next_page += lines_per_page
            count += 1
            if closing:
                stack.pop()
                continue
            if stack and stack[-1][0] == "array":
                stack[-1][1] += 1
            if bracket is not None:
                if len(stack) < 3 and len(anchors) < MAX_ANCHORS:
                    anchors.append([[frame[1] for frame in stack], count - 1])
                stack.append(["map", None] if bracket == b"{" else ["array", -1])
        rest = buffer[done:]
        if final:
            if rest.strip(b" \t\r\n") or stack or not count:
                return None
            break
        base += done
        buffer = rest
    return {"lines": lines_per_page, "count": count, "pages": pages, "anchors": anchors}


def _resume_prefix(frames: list[list[Any]]) -> bytes:
    """The openers of a page's open containers, so that the body from the page's offset parses."""
    parts = []
    for i, (kind, key) in enumerate(frames):
        parts.append("{" if kind == "map" else "[")
        if kind == "map" and i < len(frames) - 1:
            parts.append(json.dumps(key) + ":")
    return "".join(parts).encode()


def json_lines(stream: BinaryIO, resume: list[list[Any]] | None = None) -> Iterator[tuple[int, tuple[Any, ...], str]]:
    """A JSON document as pretty-printed lines, each with its depth and the path of the value it shows,
    parsed incrementally (ijson): the document is never held whole. With ``resume`` (a page's open
    containers, see :func:`page_map`) the stream starts with their openers (:func:`_resume_prefix`), which
    show no line: the lines are those from the page on."""
    stack: list[list[Any]] = []  # [kind, current key or index] of each open container
    pending: tuple[int, tuple[Any, ...], str] | None = None
    openers = len(resume or ())
    # basic_parse: no path per event (the stack above keeps it): ijson.parse builds each event's path from the
    # root, which for a refused body nested 100,000 deep took 2.9 GB before its first page.
    for event, value in ijson.basic_parse(stream, use_float=True):
        if openers:
            if event in ("start_map", "start_array"):
                openers -= 1
                if not openers:
                    stack = [list(frame) for frame in resume or ()]
            continue
        if event == "map_key":
            stack[-1][1] = value
            continue
        if event in ("end_map", "end_array"):
            if pending is not None:
                yield pending
            stack.pop()
            pending = (len(stack), tuple(frame[1] for frame in stack), "}" if event == "end_map" else "]")
            continue
        if pending is not None:
            yield pending if pending[2].endswith(("{", "[")) else (pending[0], pending[1], pending[2] + ",")
        if stack and stack[-1][0] == "array":
            stack[-1][1] += 1
        path = tuple(frame[1] for frame in stack)
        key = f"{json.dumps(stack[-1][1], ensure_ascii=False)}: " if stack and stack[-1][0] == "map" else ""
        depth = len(stack)
        if event == "start_map":
            stack.append(["map", None])
            text = key + "{"
        elif event == "start_array":
            stack.append(["array", -1])
            text = key + "["
        else:
            text = key + _scalar(value)
        pending = (depth, path, text)
    if pending is not None:
        yield pending


def _scalar(value: Any) -> str:
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
        return text if len(text) <= VALUE_CHARS else text[:VALUE_CHARS] + f"… ({len(value)} characters)"
    return json.dumps(value)


def _row_label(channel: str, path: tuple[Any, ...]) -> str:
    """Where a line is in the channel's terms: a stock push's row, a batch's product, a usage row."""
    if channel == stock.NAME and len(path) >= 3 and path[0] == "data" and isinstance(path[2], int):
        return f"row {path[2]}"
    if channel == s360.NAME and path and isinstance(path[0], int):
        return f"product [{path[0]}]"
    if channel == servicemobility.NAME and len(path) >= 3 and path[:2] == ("data", "rows") and isinstance(path[2], int):
        return f"row {path[2]}"
    return ""


def _body_view(store: storage.Store, row: Any, problems: list[dict[str, Any]], details: Any) -> BodyView:
    if not row.body_kept:
        return BodyView(False, [], 0, False)
    if request.args.get("raw"):
        offset = max(0, _int_arg("offset") or 0)
        with store.read() as conn:
            piece = storage.read_body_slice(conn, row.id, offset, RAW_BYTES)
        return BodyView(True, [], 0, offset + len(piece) < (row.body_bytes or 0),
                        raw=piece.decode("utf-8", errors="replace"), raw_offset=offset)
    by_path: dict[tuple[Any, ...], list[str]] = {}
    for problem in problems:
        by_path.setdefault(tuple(problem.get("path") or ()), []).append(str(problem.get("message", "")))
    wanted = _wanted_path()
    page = 0 if wanted is not None else max(0, _int_arg("page") or 0)
    pages = _pages(store, row, details) if page > 0 or wanted is not None else None
    start = 0  # the page the scan starts at: read from its offset, not from the body's start
    if pages is not None:
        start = _page_of(pages, wanted) if wanted is not None else min(page, len(pages["pages"]))
    offset, frames = (pages["pages"][start - 1] if pages is not None and start > 0 else (0, None))
    lines: list[Line] = []
    found_at: int | None = None
    seen: set[tuple[Any, ...]] = set()
    error = None
    count = start * BODY_LINES
    if wanted is not None:
        page = start
    with body_stream(store, row.id, offset, _resume_prefix(frames) if frames else b"") as stream:
        try:
            for number, (depth, path, text) in enumerate(json_lines(stream, frames), start=start * BODY_LINES):
                count = number + 1
                current = number // BODY_LINES
                if wanted is not None and found_at is None:  # looking for the page that shows ``wanted``
                    if current != page:
                        lines, page = [], current
                    if path == wanted:
                        found_at = current
                elif current != page:
                    if current > page:
                        break
                    continue
                lines.append(_line(row.channel, number, depth, path, text, by_path, seen))
        except (ijson.JSONError, ijson.IncompleteJSONError, UnicodeDecodeError) as exc:
            error = f"not JSON from here on ({exc}); the raw bytes show the rest"
    if wanted is not None and found_at is None:  # not in the body (a missing field): the first page
        page = 0
        with body_stream(store, row.id) as stream:
            lines = [_line(row.channel, number, depth, path, text, by_path, seen) for number, (depth, path, text)
                     in zip(range(BODY_LINES), json_lines(stream), strict=False)]
    if pages is not None:
        count = pages["count"]
    has_next = count > (page + 1) * BODY_LINES
    single = page == 0 and not has_next
    unplaced = [p for p in problems if tuple(p.get("path") or ()) not in seen] if single else []
    return BodyView(True, lines, page, has_next, error=error, unplaced=unplaced)


def _pages(store: storage.Store, row: Any, details: Any) -> dict[str, Any] | None:
    """The body's page map, recorded with its details the first time a body is paged (None: not JSON)."""
    known = details.body_pages if details is not None else None
    if known and known.get("lines") == BODY_LINES and known.get("sha256") == row.body_sha256:
        return known if known.get("pages") is not None else None
    with body_stream(store, row.id) as stream:
        try:
            found = page_map(stream, BODY_LINES)
        except ValueError:  # a key that is not a JSON string
            found = None
    recorded = {"lines": BODY_LINES, "sha256": row.body_sha256, "pages": None, **(found or {})}
    with store.write() as conn:
        storage.record_details(conn, row.id, body_pages=recorded)
    return found


def _page_of(pages: dict[str, Any], wanted: tuple[Any, ...]) -> int:
    """The page to start looking for ``wanted`` at: that of its nearest container whose start the map
    keeps, and within an array, the last page starting at or before the wanted index."""
    prefix: tuple[Any, ...] = ()
    line = 0
    for path, start in pages["anchors"]:
        path = tuple(path)
        if len(path) > len(prefix) and wanted[:len(path)] == path:
            prefix, line = path, start
    page = line // BODY_LINES
    depth = len(prefix)
    if depth < len(wanted) and isinstance(wanted[depth], int):
        starts = pages["pages"]  # page p + 1 starts at starts[p]
        low, high = page, len(starts)
        while low < high:  # the last page whose first line is inside the array at an index <= wanted's
            middle = (low + high + 1) // 2
            frames = starts[middle - 1][1]
            inside = (len(frames) > depth and frames[depth][0] == "array"
                      and tuple(frame[1] for frame in frames[:depth]) == prefix)
            # A page starting at an element's own line: frames hold the index before it; inside one: its own.
            before = inside and (frames[depth][1] + 1 <= wanted[depth] if len(frames) == depth + 1
                                 else frames[depth][1] < wanted[depth])
            if before:
                low = middle
            else:
                high = middle - 1
        page = low
    return page


def _line(channel: str, number: int, depth: int, path: tuple[Any, ...], text: str,
          by_path: dict[tuple[Any, ...], list[str]], seen: set[tuple[Any, ...]]) -> Line:
    problems = by_path.get(path, [])
    if problems:
        seen.add(path)
    return Line(number + 1, depth, path, text, _row_label(channel, path), problems)


def _wanted_path() -> tuple[Any, ...] | None:
    text = request.args.get("at")
    if not text:
        return None
    try:
        path = json.loads(text)
    except ValueError:
        abort(400, description="at must be a JSON array of keys and indexes, e.g. [\"data\", \"pn\", 5].")
    if not isinstance(path, list) or not all(isinstance(p, str | int) and not isinstance(p, bool) for p in path):
        abort(400, description="at must be a JSON array of keys and indexes, e.g. [\"data\", \"pn\", 5].")
    return tuple(path)


