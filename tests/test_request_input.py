"""Reading a submitted request (M3 item 1): every rule of ``parse_request``, for JSON's types and
for a form's strings, and the errors it names field by field."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from werkzeug.datastructures import MultiDict

from models.types import utcnow
from workflows.errors import Invalid
from workflows.request_input import (
    FIELDS,
    LIST_MAX_ITEMS,
    RequestInput,
    RequestInvalid,
    parse_request,
)

FORMATS = "use one of call, video, written, site_visit"
MINIMAL = {"prospect_company": "Zephyr Hospitals AG", "format": "call"}


def today() -> date:
    return utcnow().date()


def errors_of(raw) -> dict[str, list[str]]:
    with pytest.raises(RequestInvalid) as refused:
        parse_request(raw)
    return refused.value.errors


def only_error(raw, field: str) -> str:
    errors = errors_of(raw)
    assert list(errors) == [field], errors
    [message] = errors[field]
    return message


# --- what comes out --------------------------------------------------------------------------


def test_the_two_required_fields_are_enough(app_context):
    parsed = parse_request(MINIMAL)

    assert isinstance(parsed, RequestInput)
    assert parsed.prospect_company == "Zephyr Hospitals AG"
    assert parsed.format.code == "call"
    assert (parsed.industry, parsed.region, parsed.amount, parsed.employees, parsed.needed_by) == (
        None, None, None, None, None
    )
    assert (parsed.use_cases, parsed.topics, parsed.competitors, parsed.questions) == ([], [], [], [])
    assert (parsed.opportunity_id, parsed.contact_email, parsed.notes) == ("", "", "")


def test_a_whole_json_request_is_typed(app_context):
    needed = today() + timedelta(days=10)
    parsed = parse_request({
        "opportunity_id": 88123, "opportunity_name": "Zephyr: EMEA rollout", "amount": 250000.5,
        "prospect_company": "Zephyr Hospitals AG", "industry": "Healthcare", "employees": 1200,
        "region": "Europe", "contact_name": "Quentin Quaile", "contact_email": "Quentin@Zephyr.example",
        "use_cases": ["Claims automation", "Fraud detection"], "topics": ["Security", "ROI"],
        "competitors": ["Acme Cloud"], "format": "written", "needed_by": needed.isoformat(),
        "questions": ["How long did it take?", "Would you choose it again?"],
        "notes": "Line one.\nLine two.",
    })

    assert parsed.opportunity_id == "88123"
    assert parsed.amount == Decimal("250000.50")
    assert (parsed.industry.name, parsed.region.name, parsed.employees) == ("Healthcare", "Europe", 1200)
    assert parsed.contact_email == "Quentin@zephyr.example"  # the domain is normalised
    assert [t.name for t in parsed.topics] == ["Security", "ROI"]
    assert parsed.use_cases == ["Claims automation", "Fraud detection"]
    assert parsed.competitors == ["Acme Cloud"]
    assert (parsed.format.code, parsed.needed_by) == ("written", needed)
    assert parsed.questions == ["How long did it take?", "Would you choose it again?"]
    assert parsed.notes == "Line one.\nLine two."


def test_a_form_sends_everything_as_strings(app_context):
    parsed = parse_request({
        "prospect_company": "  Zephyr   Hospitals AG ", "format": "video", "amount": "1,250,000.50",
        "employees": "1,200", "industry": "  life   SCIENCES", "region": "north america",
        "use_cases": "Claims automation; fraud detection\nClaims AUTOMATION;;", "topics": "roi;security",
        "competitors": "", "needed_by": "", "contact_email": "", "questions": "", "notes": "  ",
        "csrf_token": "whatever Flask-WTF put there",
    })

    assert parsed.prospect_company == "Zephyr Hospitals AG"
    assert (parsed.amount, parsed.employees) == (Decimal("1250000.50"), 1200)
    assert (parsed.industry.name, parsed.region.name) == ("Life Sciences", "North America")
    assert parsed.use_cases == ["Claims automation", "fraud detection"]  # repeats kept once
    assert [t.name for t in parsed.topics] == ["ROI", "Security"]
    assert (parsed.competitors, parsed.needed_by, parsed.contact_email, parsed.notes) == ([], None, "", "")


def test_a_multiple_select_repeats_its_key(app_context):
    parsed = parse_request(MultiDict([
        ("prospect_company", "Zephyr"), ("format", "call"), ("topics", "ROI"), ("topics", "Compliance"),
    ]))

    assert [t.name for t in parsed.topics] == ["ROI", "Compliance"]


@pytest.mark.parametrize(
    ("given", "code"),
    [("call", "call"), ("CALL", "call"), ("Video call", "video"), ("site visit", "site_visit"),
     ("Site-Visit", "site_visit"), ("site_visit", "site_visit"), ("Written reference", "written")],
)
def test_formats_are_matched_by_code_or_name_in_any_case(app_context, given, code):
    raw = {**MINIMAL, "format": given, "questions": ["Why?"]}
    assert parse_request(raw).format.code == code


# --- one rule at a time ----------------------------------------------------------------------


@pytest.mark.parametrize("company", [None, "", "   "])
def test_the_prospect_company_is_required(app_context, company):
    raw = {"format": "call"} if company is None else {**MINIMAL, "prospect_company": company}
    assert only_error(raw, "prospect_company") == "required: the prospect's company name"


def test_text_fields_have_the_columns_lengths(app_context):
    errors = errors_of({
        **MINIMAL, "prospect_company": "Z" * 201, "opportunity_id": "1" * 65, "opportunity_name": "n" * 201,
        "contact_name": "c" * 121,
    })
    assert errors == {
        "opportunity_id": ["at most 64 characters (this is 65)"],
        "opportunity_name": ["at most 200 characters (this is 201)"],
        "prospect_company": ["at most 200 characters (this is 201)"],
        "contact_name": ["at most 120 characters (this is 121)"],
    }
    assert parse_request({**MINIMAL, "prospect_company": "Z" * 200}).prospect_company == "Z" * 200


@pytest.mark.parametrize("value", [{"name": "Zephyr"}, ["Zephyr"], True, 1.5])
def test_a_text_field_must_hold_text(app_context, value):
    assert only_error({**MINIMAL, "prospect_company": value}, "prospect_company") == "must be text"


def test_the_format_is_required_and_must_be_known(app_context):
    assert only_error({"prospect_company": "Zephyr"}, "format") == f"required: {FORMATS}"
    assert only_error({**MINIMAL, "format": "x"}, "format") == f"unknown format 'x': {FORMATS}"
    assert only_error({**MINIMAL, "format": "carrier pigeon"}, "format") == (
        f"unknown format 'carrier pigeon': {FORMATS}"
    )


def test_unknown_industries_regions_and_topics_are_named(app_context):
    errors = errors_of({
        **MINIMAL, "industry": "Aerospace", "region": "Antarctica", "topics": ["ROI", "Blockchain", "Web3"],
    })

    [industry] = errors["industry"]
    assert industry.startswith("unknown industry 'Aerospace': use one of Technology, ")
    assert "Healthcare" in industry
    [region] = errors["region"]
    assert region == ("unknown region 'Antarctica': use one of North America, Latin America, Europe, "
                      "Middle East & Africa, Asia Pacific")
    assert [m.split(":")[0] for m in errors["topics"]] == [
        "unknown topic 'Blockchain'", "unknown topic 'Web3'"]
    assert "Executive sponsorship" in errors["topics"][0]


def test_catalogue_names_match_whatever_their_case_and_spacing(app_context):
    parsed = parse_request({
        **MINIMAL, "industry": "FINANCIAL  services", "region": "middle east & AFRICA",
        "topics": ["change MANAGEMENT", "Change management", "pricing and contract"],
    })
    assert (parsed.industry.name, parsed.region.name) == ("Financial Services", "Middle East & Africa")
    assert [t.name for t in parsed.topics] == ["Change management", "Pricing and contract"]


@pytest.mark.parametrize("address", ["nope", "pat@", "pat@prospect", "two@@prospect.example"])
def test_the_contact_email_must_be_valid_when_given(app_context, address):
    message = only_error({**MINIMAL, "contact_email": address}, "contact_email")
    assert message.startswith(f"'{address}' is not a valid e-mail address")


@pytest.mark.parametrize(
    ("value", "message"),
    [(0, "must be at least 1"), (-5, "must be at least 1"), ("-5", "must be at least 1"),
     ("0", "must be at least 1"), ("many", "'many' is not a whole number"),
     ("1.5", "'1.5' is not a whole number"), (1.5, "must be a whole number"),
     (True, "must be a whole number"),
     (10_000_001, "at most 10,000,000"), ([12], "must be a whole number")],
)
def test_employees_is_a_whole_number_of_at_least_one(app_context, value, message):
    assert only_error({**MINIMAL, "employees": value}, "employees") == message


@pytest.mark.parametrize(
    ("value", "count"), [(1, 1), ("1", 1), (" 1,200 ", 1200), (12.0, 12), ("5000", 5000)]
)
def test_employees_accepted(app_context, value, count):
    assert parse_request({**MINIMAL, "employees": value}).employees == count


@pytest.mark.parametrize(
    ("value", "message"),
    [(-1, "must be 0 or more"), ("-0.01", "must be 0 or more"), ("1.234", "at most 2 decimals"),
     (0.125, "at most 2 decimals"), ("lots", "'lots' is not a number: write it like 250000 or 250000.50"),
     ("NaN", "'NaN' is not a number: write it like 250000 or 250000.50"),
     ("1e6", "'1e6' is not a number: write it like 250000 or 250000.50"),
     (float("inf"), "must be a number"), (True, "must be a number"), ({"eur": 5}, "must be a number"),
     (10**13, "at most 999,999,999,999.99")],
)
def test_the_amount_is_zero_or_more_with_two_decimals_at_most(app_context, value, message):
    assert only_error({**MINIMAL, "amount": value}, "amount") == message


@pytest.mark.parametrize(
    ("value", "amount"),
    [(0, "0.00"), ("0", "0.00"), (99.99, "99.99"), ("1,250,000.5", "1250000.50"), ("1.500", "1.50"),
     (Decimal("12.3"), "12.30"), (".5", "0.50")],
)
def test_amounts_accepted(app_context, value, amount):
    assert parse_request({**MINIMAL, "amount": value}).amount == Decimal(amount)


def test_needed_by_is_a_date_today_or_later(app_context):
    yesterday, now = today() - timedelta(days=1), today()
    assert only_error({**MINIMAL, "needed_by": yesterday.isoformat()}, "needed_by") == (
        f"must not be in the past (today is {now.isoformat()}, UTC)"
    )
    assert only_error({**MINIMAL, "needed_by": "2027-02-30"}, "needed_by") == (
        "2027-02-30 is not a date on the calendar"
    )
    for written in ("01/02/2027", "20270201", "next week", 20270201):
        message = only_error({**MINIMAL, "needed_by": written}, "needed_by")
        assert message == "must be a date written YYYY-MM-DD"
    assert parse_request({**MINIMAL, "needed_by": now.isoformat()}).needed_by == now
    later = now + timedelta(days=3)
    assert parse_request({**MINIMAL, "needed_by": later}).needed_by == later


def test_a_written_reference_needs_a_question(app_context):
    raw = {**MINIMAL, "format": "written"}
    assert only_error(raw, "questions") == "a written reference needs at least one question"
    assert only_error({**raw, "questions": " ; \n"}, "questions") == (
        "a written reference needs at least one question"
    )
    assert parse_request({**raw, "questions": ["Why?"]}).questions == ["Why?"]


def test_questions_in_a_form_are_one_per_line_when_there_are_lines(app_context):
    raw = {**MINIMAL, "format": "written"}
    parsed = parse_request({**raw, "questions": "What did it cost; and was it worth it?\nWho ran it?\n"})
    assert parsed.questions == ["What did it cost; and was it worth it?", "Who ran it?"]
    assert parse_request({**raw, "questions": "Why?; How?"}).questions == ["Why?", "How?"]


def test_list_items_have_a_length_limit(app_context):
    long_tag, long_question = "t" * 121, "q" * 501
    errors = errors_of({
        **MINIMAL, "use_cases": [long_tag], "competitors": f"Acme; {long_tag}", "topics": [long_tag],
        "questions": [long_question],
    })
    shown = "t" * 40 + "…"
    assert errors == {
        "use_cases": [f"'{shown}' is longer than 120 characters"],
        "topics": [f"'{shown}' is longer than 120 characters"],
        "competitors": [f"'{shown}' is longer than 120 characters"],
        "questions": [f"'{'q' * 40}…' is longer than 500 characters"],
    }
    parsed = parse_request({**MINIMAL, "use_cases": ["t" * 120], "questions": ["q" * 500]})
    assert (parsed.use_cases, parsed.questions) == (["t" * 120], ["q" * 500])


def test_lists_hold_at_most_twenty_items(app_context):
    too_many = [f"Use case {n}" for n in range(LIST_MAX_ITEMS + 1)]
    assert only_error({**MINIMAL, "use_cases": too_many}, "use_cases") == "at most 20 items (this has 21)"
    assert only_error({**MINIMAL, "questions": "\n".join(too_many)}, "questions") == (
        "at most 20 items (this has 21)"
    )
    assert len(parse_request({**MINIMAL, "competitors": too_many[:20]}).competitors) == 20


@pytest.mark.parametrize(
    ("value", "message"),
    [({"a": 1}, "must be a list of texts"), (5, "must be a list of texts"),
     (["ok", 5], "item 2 is not text: the list must hold texts only")],
)
def test_lists_hold_texts(app_context, value, message):
    assert only_error({**MINIMAL, "use_cases": value}, "use_cases") == message


def test_notes_keep_their_lines_up_to_five_thousand_characters(app_context):
    assert only_error({**MINIMAL, "notes": "n" * 5001}, "notes") == "at most 5,000 characters (this is 5,001)"
    assert parse_request({**MINIMAL, "notes": "a\n\nb"}).notes == "a\n\nb"


def test_unknown_keys_are_named(app_context):
    errors = errors_of({**MINIMAL, "colour": "blue", "Prospect_Company": "x"})
    assert list(errors) == ["Prospect_Company", "colour"]
    assert errors["colour"] == [f"unknown field 'colour': a request has {', '.join(FIELDS)}"]
    assert errors["Prospect_Company"][0].startswith("unknown field 'Prospect_Company'")


def test_every_problem_is_reported_at_once_in_the_contracts_order(app_context):
    with pytest.raises(RequestInvalid) as refused:
        parse_request({
            "colour": 1, "format": "fax", "prospect_company": "", "employees": 0, "amount": -1,
            "industry": "Aerospace", "contact_email": "nope", "needed_by": "soon", "notes": "n" * 5001,
            "topics": ["Blockchain"], "use_cases": 3,
        })
    error = refused.value
    assert isinstance(error, Invalid) and error.status == 422
    assert list(error.errors) == [
        "amount", "prospect_company", "industry", "employees", "contact_email", "use_cases", "topics",
        "format", "needed_by", "notes", "colour",
    ]
    assert str(error).startswith("The request was not saved. amount: must be 0 or more; prospect_company: ")
    assert "unknown topic 'Blockchain'" in str(error)


@pytest.mark.parametrize("raw", [["prospect_company"], "prospect_company=Zephyr", None])
def test_a_body_that_is_not_an_object_is_refused(app_context, raw):
    assert errors_of(raw) == {"request": ["the request must be an object with the request's fields"]}


def test_parsing_runs_a_fixed_number_of_queries(app_context, count_queries):
    def measure(topics: list[str]) -> int:
        with count_queries() as statements:
            parse_request({**MINIMAL, "industry": "Retail", "region": "Europe", "topics": topics})
        return len(statements)

    assert measure(["ROI"]) == measure(["ROI", "Security", "Adoption", "Compliance", "Migration"]) <= 4
