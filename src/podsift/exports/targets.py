"""Setting up export targets (CLI, preferences page, API all call these), listing them
with their state, counting exports for `podsift stats`, and the vault as a zip."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from podsift.backends.exports import ExportError
from podsift.backends.exports.readwise import check_token
from podsift.backends.exports.vault import vault_zip
from podsift.exports.sealed import seal
from podsift.exports.stage import KINDS, SCOPES, build_items, candidates
from podsift.store import Export, ExportState, ExportTarget, ExportTargetState, Subscriber
from podsift.subscribers.tokens import load_secret

if TYPE_CHECKING:
    from podsift.core import App

_NOTION_ID = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")


class ExportSetupError(ValueError):
    """A target that cannot be set up as asked (the message says why)."""


@dataclass
class TargetInfo:
    id: int
    kind: str
    subscriber: str | None
    scope: str
    where: str  # the database id or folder (never the token)
    state: str
    error: str | None
    error_at: datetime | None
    last_run_at: datetime | None
    sent: int
    waiting: int
    failed: int


def notion_database_id(value: str) -> str:
    """A database id, or the id inside a Notion link to the database."""
    value = value.strip()
    found = re.search(r"([0-9a-fA-F]{32}|[0-9a-fA-F-]{36})(?:[?#]|$)", value)
    candidate = found.group(1) if found else value
    if not _NOTION_ID.match(candidate):
        raise ExportSetupError("a Notion database id is 32 hexadecimal digits (from the database's link)")
    return candidate.replace("-", "")


def add_target(
    app: App,
    kind: str,
    email: str | None,
    token: str = "",
    scope: str = "received",
    database_id: str = "",
    folder: str = "",
    check: bool = True,
) -> ExportTarget:
    """A new target, or the subscriber's existing one of that kind with the new settings
    (a new token makes a revoked target active again)."""
    if kind not in KINDS:
        raise ExportSetupError(f"unknown target {kind!r} (choose from {', '.join(KINDS)})")
    if scope not in SCOPES or (scope == "all" and email):
        raise ExportSetupError("scope is 'received' or 'liked' for a subscriber ('all' is the admin's)")
    options: dict[str, str] = {}
    token = token.strip()
    if kind in ("readwise", "notion") and not token:
        raise ExportSetupError(f"{kind} needs an access token")
    if kind == "notion":
        options["database_id"] = notion_database_id(database_id)
    if kind == "vault":
        if not folder and app.settings.export_dir is None:
            raise ExportSetupError("a vault needs a folder (--dir, or PODSIFT_EXPORT_DIR)")
        options["dir"] = str(Path(folder or str(app.settings.export_dir)).expanduser().resolve())
    if kind == "readwise" and check:
        try:
            check_token(token, app.settings.readwise_url)
        except ExportError as exc:
            raise ExportSetupError(f"Readwise did not accept this token: {exc.reason}") from exc
    secret = load_secret(app.settings.secret_key, app.settings.home)
    with app.session() as session:
        sub_id = None
        if email:
            sub_id = session.scalar(sa.select(Subscriber.id).where(Subscriber.email == email.strip().lower()))
            if sub_id is None:
                raise ExportSetupError(f"no subscriber {email}")
        target = session.scalar(
            sa.select(ExportTarget).where(
                ExportTarget.kind == kind,
                ExportTarget.subscriber_id.is_(None)
                if sub_id is None
                else ExportTarget.subscriber_id == sub_id,
            )
        )
        if target is None:
            target = ExportTarget(kind=kind, subscriber_id=sub_id)
            session.add(target)
        target.scope = "all" if sub_id is None else scope
        target.options = options
        target.sealed_token = seal(secret, token) if token else None
        target.state, target.error_reason, target.error_at = ExportTargetState.ACTIVE, None, None
        session.commit()
        session.refresh(target)
        session.expunge(target)
        return target


def list_targets(app: App, subscriber_id: int | None = None) -> list[TargetInfo]:
    counts = sa.select(
        Export.target_id,
        sa.func.sum(sa.case((Export.state == ExportState.SENT, 1), else_=0)),
        sa.func.sum(sa.case((Export.state.in_([ExportState.PENDING, ExportState.SENDING]), 1), else_=0)),
        sa.func.sum(sa.case((Export.state == ExportState.FAILED, 1), else_=0)),
    ).group_by(Export.target_id)
    query = (
        sa.select(ExportTarget, Subscriber.email)
        .outerjoin(Subscriber, Subscriber.id == ExportTarget.subscriber_id)
        .order_by(ExportTarget.id)
    )
    if subscriber_id is not None:
        query = query.where(ExportTarget.subscriber_id == subscriber_id)
    with app.session() as session:
        tally = {t: (int(a or 0), int(b or 0), int(c or 0)) for t, a, b, c in session.execute(counts)}
        return [
            TargetInfo(
                t.id,
                t.kind,
                email,
                t.scope,
                str(t.options.get("database_id") or t.options.get("dir") or ""),
                t.state,
                t.error_reason,
                t.error_at,
                t.last_run_at,
                *tally.get(t.id, (0, 0, 0)),
            )
            for t, email in session.execute(query)
        ]


def remove_target(app: App, target_id: int, subscriber_id: int | None = None) -> bool:
    """Forget a target, its token and its ledger (what was sent stays where it went)."""
    with app.session() as session:
        query = sa.delete(ExportTarget).where(ExportTarget.id == target_id)
        if subscriber_id is not None:
            query = query.where(ExportTarget.subscriber_id == subscriber_id)
        removed = session.execute(query).rowcount > 0  # type: ignore[attr-defined]
        # SQLite without foreign keys on would keep the rows: delete them here too.
        if removed:
            session.execute(sa.delete(Export).where(Export.target_id == target_id))
        session.commit()
        return bool(removed)


def export_counts(app: App) -> list[tuple[str, str, int]]:
    """(target kind, outcome, insights) for `podsift stats`: sent (once), updated (sent
    again with a new text), waiting, failed; and targets whose token was refused."""
    with app.session() as session:
        rows = session.execute(
            sa.select(ExportTarget.kind, Export.state, Export.versions, sa.func.count())
            .join(ExportTarget, ExportTarget.id == Export.target_id)
            .group_by(ExportTarget.kind, Export.state, Export.versions)
        )
        tally: dict[tuple[str, str], int] = {}
        for kind, state, versions, n in rows:
            outcome = (
                ("updated" if versions > 1 else "sent")
                if state == ExportState.SENT
                else "waiting"
                if state in (ExportState.PENDING, ExportState.SENDING)
                else "failed"
            )
            tally[(kind, outcome)] = tally.get((kind, outcome), 0) + int(n)
        for kind, n in session.execute(
            sa.select(ExportTarget.kind, sa.func.count())
            .where(ExportTarget.state == ExportTargetState.REVOKED)
            .group_by(ExportTarget.kind)
        ):
            tally[(kind, "token refused (targets)")] = int(n)
    return sorted((k, o, n) for (k, o), n in tally.items())


def subscriber_vault(app: App, sub: Subscriber, scope: str = "received") -> bytes:
    """Everything the subscriber received (or liked) as a zipped Markdown vault."""
    probe = ExportTarget(kind="vault", subscriber_id=sub.id, scope=scope)
    with app.session() as session:
        wanted = {i: at for i, at in session.execute(candidates(probe))}
        items = build_items(app, session, wanted)
    return vault_zip(items.values(), app.settings.export_templates)
