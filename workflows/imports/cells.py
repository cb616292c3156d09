"""Checking cells: one row's values, each check recording a ``Problem`` with the row and the
column and answering None when the cell is wrong, so that every problem of a file is found in
one pass. The rules are the ones the forms use (``workflows.profiles`` for lists and tags,
``workflows.availability`` for weekly windows and time zones).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, time
from typing import Any, NamedTuple

from email_validator import EmailNotValidError, validate_email

from models._columns import name_key
from models.accounts import normalize_email
from models.advocates import WEEKDAYS
from workflows import profiles, settings
from workflows.availability import AvailabilityError, check_window, parse_time_of_day
from workflows.imports.report import Problem

NAME_MAX_LENGTH = 120  # Account.name, Advocate.job_title
COMPANY_MAX_LENGTH = 200  # Company.name
CRM_ID_MAX_LENGTH = 64  # Company.crm_id

_INTEGER = re.compile(r"[+-]?\d{1,3}(,\d{3})+|[+-]?\d+")
_WINDOW = re.compile(
    r"(?P<first>[^\W\d_]+)(?:\s*[-–]\s*(?P<last>[^\W\d_]+))?\s+(?P<starts>\S+?)\s*[-–]\s*(?P<ends>\S+)"
)
LIST_SEPARATORS = profiles.CELL_SEPARATORS  # ";" and line breaks, never commas


class Cells:
    """One row's cells, with checks that record a problem and answer None when a cell is wrong."""

    def __init__(self, number: int, cells: dict[str, str], problems: list[Problem],
                 addresses: dict[str, str | None]) -> None:
        self.number = number
        self.cells = cells
        self.problems = problems
        self.addresses = addresses  # each e-mail cell of the file → ``email(cell)``, worked out once
        self.ok = True

    def __getitem__(self, column: str) -> str:
        return self.cells[column]

    def error(self, column: str | None, message: str) -> None:
        self.problems.append(Problem(self.number, column, message))
        self.ok = False

    def text(self, column: str, what: str, *, max_length: int, required: bool = False) -> str | None:
        value = " ".join(self[column].split())
        if not value:
            if required:
                self.error(column, f"Give the {what}: this column cannot be empty.")
            return None
        if len(value) > max_length:
            self.error(column, f"The {what} is {len(value)} characters long: keep it to {max_length}.")
            return None
        return value

    def integer(self, column: str, what: str, low: int, high: int | None) -> int | None:
        value = self[column]
        if not value:
            return None
        if not _INTEGER.fullmatch(value):
            self.error(column, f"“{short(value)}” is not a whole number: give the {what} like 250.")
            return None
        number = int(value.replace(",", ""))
        if number < low or (high is not None and number > high):
            bounds = f"from {low} to {high}" if high is not None else f"of at least {low}"
            self.error(column, f"{number} is out of range: give the {what} as a number {bounds}.")
            return None
        return number

    def date(self, column: str, what: str) -> date | None:
        value = self[column]
        if not value:
            return None
        try:
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
                return date.fromisoformat(value)
        except ValueError:
            pass
        self.error(column, f"“{short(value)}” is not a date: give the {what} like 2026-05-31.")
        return None

    def email(self, column: str, *, required: bool) -> str | None:
        value = self[column]
        if not value:
            if required:
                self.error(column, "Give the e-mail address: this column cannot be empty.")
            return None
        address = self.addresses[value] if value in self.addresses else email(value)
        if address is None:
            self.error(column, f"“{short(value)}” is not an e-mail address.")
        return address

    def lookup(self, column: str, table: dict[str, Any], what: str, choices: str) -> Any:
        value = self[column]
        if not value:
            return None
        found = table.get(name_key(value))
        if found is None:
            self.error(column, f"“{short(value)}” is not {what}: use {choices}.")
        return found

    def names(self, column: str, what: str) -> list[str]:
        """A ``;``-separated list of free names (tags): each at most 120 characters, at most 30."""
        names = profiles.split_list(self[column], LIST_SEPARATORS)
        for name in names:
            if len(name) > profiles.TAG_MAX_LENGTH:
                self.error(column, f"“{short(name)}” is too long: keep each {what} to "
                                   f"{profiles.TAG_MAX_LENGTH} characters.")
                return []
        if len(names) > profiles.TAGS_MAX:
            self.error(column, f"That is {len(names)} {what}s: list at most {profiles.TAGS_MAX}.")
            return []
        return names

    def choices(self, column: str, table: dict[str, Any], what: str, choices: str) -> list[Any]:
        """A ``;``-separated list of catalogue entries; every unknown one named in one problem."""
        found, unknown = [], []
        for value in profiles.split_list(self[column], LIST_SEPARATORS):
            row = table.get(name_key(value))
            if row is None:
                unknown.append(value)
            elif row not in found:
                found.append(row)
        if unknown:
            names = ", ".join(f"“{short(value)}”" for value in unknown)
            self.error(column, f"{names} {f'is not a {what}' if len(unknown) == 1 else f'are not {what}s'}: "
                               f"use {choices}.")
        return found


def short(value: str, length: int = 60) -> str:
    return value if len(value) <= length else value[:length] + "…"


# --- e-mail addresses --------------------------------------------------------------------------


def email(value: str) -> str | None:
    """The address as accounts keep it (validated, case-folded), or None when it is not one."""
    try:
        return normalize_email(validate_email(value, check_deliverability=False).normalized)
    except EmailNotValidError:
        return None


def addresses(cells: Iterable[str]) -> dict[str, str | None]:
    """Each distinct non-empty e-mail cell → the address it is (validation is the slow part)."""
    return {cell: email(cell) for cell in set(cells) if cell}


# --- weekly windows ----------------------------------------------------------------------------


class Span(NamedTuple):
    weekday: int
    starts: time
    ends: time


def windows(cells: Cells, column: str = "weekly_windows") -> list[Span]:
    """``Mon 09:00-12:00; Wed 14:00-17:00`` (also ``Mon-Fri 09:00-12:00``), checked by the
    availability page's own rules: a known weekday, end after start, long enough for a call (the
    ``CALL_MINUTES`` setting), no overlap."""
    call_minutes = settings.value("CALL_MINUTES")
    spans: list[Span] = []
    for part in profiles.split_list(cells[column], LIST_SEPARATORS):
        found = _WINDOW.fullmatch(part)
        if not found:
            cells.error(column, f"“{short(part)}” is not a window: write it like Mon 09:00-12:00, "
                                "windows separated by “;”.")
            return []
        first = _weekday(found["first"])
        last = _weekday(found["last"]) if found["last"] else first
        if first is None or last is None:
            day = found["first"] if first is None else found["last"]
            cells.error(column, f"“{short(day)}” in “{short(part)}” is not a weekday: use Mon, Tue, "
                                "Wed, Thu, Fri, Sat or Sun.")
            return []
        if last < first:
            cells.error(column, f"“{short(part)}”: the days run backwards; write them like Mon-Fri.")
            return []
        try:
            starts, ends = parse_time_of_day(found["starts"]), parse_time_of_day(found["ends"])
            for weekday in range(first, last + 1):
                check_window(weekday, starts, ends, spans, call_minutes=call_minutes)
                spans.append(Span(weekday, starts, ends))
        except AvailabilityError as refusal:
            cells.error(column, f"“{short(part)}”: {refusal}")
            return []
    return spans


def _weekday(word: str) -> int | None:
    """A weekday by any unambiguous beginning of its name (``Mo``, ``Mon``, ``monday``)."""
    word = word.casefold()
    if len(word) < 2:
        return None
    matches = [i for i, day in enumerate(WEEKDAYS) if day.casefold().startswith(word)]
    return matches[0] if len(matches) == 1 else None
