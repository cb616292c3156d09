"""Written references (DESIGN.md §2): the advocate answers the questions that travelled with
the request, saves drafts as often as they like, then submits; the coordinator approves later.

Each change takes the advocate's row lock first (so a draft saved in a second tab cannot land
after the submit), checks the rules, and commits once. A refusal raises ``WrittenError`` and
leaves nothing behind.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from mail.outbox import enqueue
from models import (
    Account,
    Engagement,
    EngagementStatus,
    ReferenceRequest,
    WrittenAnswer,
    db,
)
from models.types import utcnow
from workflows import errors
from workflows.links import external_url
from workflows.timeline import record
from workflows.transaction import transaction

WRITTEN_FORMAT = "written"
ANSWER_MAX_LENGTH = 5000


class WrittenError(errors.Invalid):
    """A change refused by a rule; ``position`` names the question at fault, if one is."""

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message, f"answer-{position}" if position is not None else None)
        self.position = position


class AlreadySubmitted(errors.Conflict):
    """The answers were submitted: they are read-only now (HTTP 409)."""


class NotAnswerable(errors.Conflict):
    """The reference was cancelled, or has no questions (HTTP 409)."""


class NotFound(errors.NotFound):
    """No such written engagement among the advocate's own."""


# --- the rules -------------------------------------------------------------------------------


def check_lengths(answers: Sequence[str]) -> None:
    for position, answer in enumerate(answers):
        if len(answer) > ANSWER_MAX_LENGTH:
            raise WrittenError(
                f"Answer {position + 1} is {len(answer)} characters long: keep each answer to "
                f"{ANSWER_MAX_LENGTH} characters or fewer.",
                position,
            )


def check_complete(answers: Sequence[str]) -> None:
    for position, answer in enumerate(answers):
        if not answer.strip():
            raise WrittenError(
                f"Question {position + 1} has no answer yet: answer every question before you "
                "submit (or save a draft and come back later).",
                position,
            )


def check_answerable(engagement: Engagement, questions: Sequence[str]) -> None:
    if engagement.answers_submitted_at is not None:
        raise AlreadySubmitted(
            f"You submitted these answers on {engagement.answers_submitted_at:%d %B %Y}: "
            "they can no longer be changed. Nothing was changed."
        )
    if engagement.status is EngagementStatus.CANCELLED:
        raise NotAnswerable("This reference was cancelled: no answers are needed any more.")
    if engagement.status is not EngagementStatus.AWAITING_BOOKING:
        raise NotAnswerable(f"This reference is {engagement.status.value}: its answers cannot change.")
    if not questions:
        raise NotAnswerable(
            "No questions came with this request yet. Your program coordinator will be in touch."
        )


def questions_of(engagement: Engagement) -> list[str]:
    """The request's questions; the answered ones kept if the request is gone."""
    if engagement.request is not None:
        return [str(q) for q in engagement.request.questions or []]
    return [a.question for a in engagement.answers]


# --- reading ---------------------------------------------------------------------------------


def advocate_written(engagement_id: int, advocate_id: int, *, fresh: bool = False) -> Engagement:
    """One of the advocate's own written engagements, with its request and answers.
    ``fresh``: re-read even what the session already holds (after taking the lock)."""
    engagement = db.session.scalars(
        select(Engagement)
        .where(
            Engagement.id == engagement_id,
            Engagement.advocate_id == advocate_id,
            Engagement.format_code == WRITTEN_FORMAT,
        )
        .options(
            joinedload(Engagement.request).options(
                joinedload(ReferenceRequest.industry), joinedload(ReferenceRequest.region)
            ),
            selectinload(Engagement.answers),
        )
        .execution_options(populate_existing=fresh)
    ).unique().one_or_none()
    if engagement is None:
        raise NotFound("There is no such written reference among yours.")
    return engagement


# --- the changes -----------------------------------------------------------------------------


def save_draft(engagement_id: int, advocate_id: int, answers: Sequence[str]) -> Engagement:
    """Keep the answers as they are (empty ones too); may be done any number of times."""
    with _change(engagement_id, advocate_id) as (engagement, questions):
        answers = _fit(answers, questions)
        check_lengths(answers)
        _store(engagement, questions, answers)
    return engagement


def submit_answers(
    engagement_id: int, advocate_id: int, answers: Sequence[str], *, now: datetime | None = None
) -> Engagement:
    """Every question answered: the answers are stored and become read-only; the coordinator
    who asked is told they are ready for approval."""
    now = now or utcnow()
    with _change(engagement_id, advocate_id) as (engagement, questions):
        answers = _fit(answers, questions)
        check_lengths(answers)
        check_complete(answers)
        _store(engagement, questions, answers)
        engagement.answers_submitted_at = now
        advocate_account = engagement.advocate.account
        if engagement.request_id is not None:
            record(engagement.request_id, "answers_submitted", advocate_account, now,
                   advocate_id=advocate_id)
        _notify_asker(engagement, advocate_account)
    return engagement


# --- helpers ---------------------------------------------------------------------------------


@contextmanager
def _change(engagement_id: int, advocate_id: int) -> Iterator[tuple[Engagement, list[str]]]:
    """The advocate's lock, then the engagement re-read (what another tab committed meanwhile is
    seen) and checked: still answerable."""
    with transaction(lock=advocate_id):
        engagement = advocate_written(engagement_id, advocate_id, fresh=True)
        questions = questions_of(engagement)
        check_answerable(engagement, questions)
        yield engagement, questions


def _fit(answers: Sequence[str], questions: Sequence[str]) -> list[str]:
    """One answer per question: missing ones empty, line endings as the browser sends them."""
    answers = [(a or "").replace("\r\n", "\n") for a in answers]
    return (answers + [""] * len(questions))[: len(questions)]


def _store(engagement: Engagement, questions: Sequence[str], answers: Sequence[str]) -> None:
    by_position = {a.position: a for a in engagement.answers}
    for position, (question, answer) in enumerate(zip(questions, answers, strict=True)):
        row = by_position.pop(position, None)
        if row is None:
            engagement.answers.append(WrittenAnswer(position=position, question=question, answer=answer))
        else:
            row.question, row.answer = question, answer
    for stale in by_position.values():  # questions the request no longer has
        engagement.answers.remove(stale)


def _notify_asker(engagement: Engagement, advocate_account: Account) -> None:
    ask = engagement.ask
    asker = db.session.get(Account, ask.asked_by_id) if ask is not None and ask.asked_by_id else None
    if asker is None or not asker.active or engagement.request is None:
        return
    enqueue(
        template="written_answers_submitted",
        to=[asker.email],
        context={
            "asker": asker,
            "advocate_name": advocate_account.name,
            "request": engagement.request,
            "count": len(engagement.answers),
            "link": external_url("admin.request", request_id=engagement.request_id),
        },
        idempotency_key=f"written-answers-submitted:{engagement.id}",
    )
