"""Reading a submitted request: every rule of ``parse_request``, for the JSON API (strict: text
as text, numbers as numbers, lists as arrays) and for a form's strings (read by
``form_values``), and the errors it names field by field."""

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
MINIMAL = {"prospect_company": "Zephyr Hospitals AG", "industry": "Healthcare", "format": "call"}


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


def form(**values) -> MultiDict:
    """A form's values, every one a string (a list given as a list repeats its key)."""
    return MultiDict([(name, item) for name, value in values.items()
                      for item in (value if isinstance(value, list) else [value])])


def test_the_three_required_fields_are_enough(app_context):
    parsed = parse_request(MINIMAL)

    assert isinstance(parsed, RequestInput)
    assert parsed.prospect_company == "Zephyr Hospitals AG"
    assert (parsed.industry.name, parsed.format.code) == ("Healthcare", "call")
    assert (parsed.region, parsed.amount, parsed.employees, parsed.needed_by) == (None, None, None, None)
    assert (parsed.use_cases, parsed.topics, parsed.competitors, parsed.questions) == ([], [], [], [])
    assert (parsed.opportunity_id, parsed.contact_email, parsed.notes) == ("", "", "")


def test_a_whole_json_request_is_typed(app_context):
    needed = today() + timedelta(days=10)
    parsed = parse_request({
        "opportunity_id": "88123", "opportunity_name": "Zephyr: EMEA rollout", "amount": 250000.5,
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
    parsed = parse_request(form(
        prospect_company="  Zephyr   Hospitals AG ", format="video", amount="1,250,000.50",
        employees="1,200", industry="  life   SCIENCES", region="north america",
        use_cases="Claims automation\n fraud   detection \r\n\nClaims AUTOMATION\n",
        topics=["ROI", "Security"],
        competitors="", needed_by="", contact_email="", questions="", notes="  ",
        csrf_token="whatever Flask-WTF put there", submission_key="a one-time key",
    ))

    assert parsed.prospect_company == "Zephyr Hospitals AG"
    assert (parsed.amount, parsed.employees) == (Decimal("1250000.50"), 1200)
    assert (parsed.industry.name, parsed.region.name) == ("Life Sciences", "North America")
    assert parsed.use_cases == ["Claims automation", "fraud detection"]  # one per line, repeats once
    assert [t.name for t in parsed.topics] == ["ROI", "Security"]
    assert (parsed.competitors, parsed.needed_by, parsed.contact_email, parsed.notes) == ([], None, "", "")


def test_a_form_list_is_one_item_per_line(app_context):
    parsed = parse_request(form(**{**MINIMAL, "format": "written"}, competitors="Acme; Globex",
                                questions="What did it cost; and was it worth it?\nWho ran it?\n"))
    assert parsed.competitors == ["Acme; Globex"]
    assert parsed.questions == ["What did it cost; and was it worth it?", "Who ran it?"]


def test_a_multiple_select_repeats_its_key(app_context):
    parsed = parse_request(form(**MINIMAL, topics=["ROI", "Compliance"]))

    assert [t.name for t in parsed.topics] == ["ROI", "Compliance"]


@pytest.mark.parametrize(
    ("given", "code"), [("call", "call"), ("CALL", "call"), ("Site_Visit", "site_visit")]
)
def test_formats_are_matched_by_code_in_any_case(app_context, given, code):
    raw = {**MINIMAL, "format": given, "questions": ["Why?"]}
    assert parse_request(raw).format.code == code


@pytest.mark.parametrize("given", ["Video call", "site visit", "Written reference"])
def test_a_formats_name_is_not_its_code(app_context, given):
    assert only_error({**MINIMAL, "format": given}, "format") == f"unknown format '{given}': {FORMATS}"


# --- one rule at a time ----------------------------------------------------------------------


@pytest.mark.parametrize("company", [None, "", "   ", "\t\n"])
def test_the_prospect_company_is_required(app_context, company):
    raw = {**MINIMAL, "prospect_company": company}
    assert only_error(raw, "prospect_company") == "required: the prospect's company name"
    del raw["prospect_company"]
    assert only_error(raw, "prospect_company") == "required: the prospect's company name"


@pytest.mark.parametrize("industry", [None, ""])
def test_the_industry_is_required(app_context, industry):
    raw = {**MINIMAL, "industry": industry}
    message = only_error(raw, "industry")
    assert message.startswith("required: use one of Technology, Telecommunications, ")
    del raw["industry"]
    assert only_error(raw, "industry") == message


def test_the_form_names_what_is_missing_in_words(app_context):
    errors = errors_of(form(prospect_company=" ", industry="", format="", region="Atlantis",
                            topics=["Astrology"]))
    assert list(errors) == ["prospect_company", "industry", "region", "topics", "format"]
    assert errors["prospect_company"] == ["Give the prospect's company name"]
    assert errors["industry"] == ["Pick an industry"]
    assert errors["format"] == ["Pick a format"]
    assert errors["region"][0].startswith("unknown region 'Atlantis': use one of North America, ")
    assert errors["topics"][0].startswith("unknown topic 'Astrology': use one of Implementation, ")
    tampered = errors_of(form(**{**MINIMAL, "industry": "Alchemy", "format": "pigeon"}))
    assert tampered["format"] == ["Pick a format from the list"]
    assert tampered["industry"][0].startswith("unknown industry 'Alchemy': use one of Technology, ")


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


@pytest.mark.parametrize("value", [{"name": "Zephyr"}, ["Zephyr"], True, 1.5, 88123])
def test_a_text_field_must_hold_text(app_context, value):
    assert only_error({**MINIMAL, "prospect_company": value}, "prospect_company") == "must be text"
    assert only_error({**MINIMAL, "opportunity_id": value}, "opportunity_id") == "must be text"


def test_the_format_is_required_and_must_be_known(app_context):
    assert only_error({**MINIMAL, "format": None}, "format") == f"required: {FORMATS}"
    no_format = {"prospect_company": "Zephyr", "industry": "Retail"}
    assert only_error(no_format, "format") == f"required: {FORMATS}"
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


@pytest.mark.parametrize("address", ["nope", "pat@", "two@@prospect.example", "pat@prospect..example"])
def test_the_contact_email_must_be_valid_when_given(app_context, address):
    message = only_error({**MINIMAL, "contact_email": address}, "contact_email")
    assert message.startswith(f"'{address}' is not a valid e-mail address")


@pytest.mark.parametrize("address", ["", "pat@prospect.example", "pat@prospect", "$s@r.example.test"])
def test_a_contact_email_is_what_json_schemas_email_format_takes(app_context, address):
    assert parse_request({**MINIMAL, "contact_email": address}).contact_email == address


@pytest.mark.parametrize(
    ("value", "message"),
    [(0, "must be at least 1"), (-5, "must be at least 1"), (1.5, "must be a whole number"),
     (True, "must be a whole number"), ("12", "must be a whole number"),
     (10_000_001, "at most 10,000,000"), ([12], "must be a whole number")],
)
def test_employees_is_a_whole_number_of_at_least_one(app_context, value, message):
    assert only_error({**MINIMAL, "employees": value}, "employees") == message


@pytest.mark.parametrize(
    ("value", "message"),
    [("-5", "must be at least 1"), ("0", "must be at least 1"), ("many", "'many' is not a whole number"),
     ("1.5", "'1.5' is not a whole number"), ("10,000,001", "at most 10,000,000")],
)
def test_employees_in_the_form(app_context, value, message):
    assert only_error(form(**MINIMAL, employees=value), "employees") == message


@pytest.mark.parametrize(("value", "count"), [(1, 1), (12.0, 12), (5000, 5000)])
def test_employees_accepted(app_context, value, count):
    assert parse_request({**MINIMAL, "employees": value}).employees == count


@pytest.mark.parametrize(("value", "count"), [("1", 1), (" 1,200 ", 1200), ("5000", 5000)])
def test_employees_accepted_from_the_form(app_context, value, count):
    assert parse_request(form(**MINIMAL, employees=value)).employees == count


@pytest.mark.parametrize(
    ("value", "message"),
    [(-1, "must be 0 or more"), (0.125, "at most 2 decimals"), (float("inf"), "must be a number"),
     (True, "must be a number"), ({"eur": 5}, "must be a number"), ("250000", "must be a number"),
     (10**13, "at most 999,999,999,999.99")],
)
def test_the_amount_is_a_number_zero_or_more_with_two_decimals_at_most(app_context, value, message):
    assert only_error({**MINIMAL, "amount": value}, "amount") == message


@pytest.mark.parametrize(
    ("value", "message"),
    [("-0.01", "must be 0 or more"), ("1.234", "at most 2 decimals"),
     ("lots", "'lots' is not a number: write it like 250000 or 250000.50"),
     ("NaN", "'NaN' is not a number: write it like 250000 or 250000.50"),
     ("1e6", "'1e6' is not a number: write it like 250000 or 250000.50")],
)
def test_the_amount_in_the_form(app_context, value, message):
    assert only_error(form(**MINIMAL, amount=value), "amount") == message


@pytest.mark.parametrize(
    ("value", "amount"),
    [(0, "0.00"), (99.99, "99.99"), (Decimal("12.3"), "12.30"), (1250000.5, "1250000.50")],
)
def test_amounts_accepted(app_context, value, amount):
    assert parse_request({**MINIMAL, "amount": value}).amount == Decimal(amount)


@pytest.mark.parametrize(
    ("value", "amount"), [("0", "0.00"), ("1,250,000.5", "1250000.50"), ("1.500", "1.50"), (".5", "0.50")],
)
def test_amounts_accepted_from_the_form(app_context, value, amount):
    assert parse_request(form(**MINIMAL, amount=value)).amount == Decimal(amount)


def test_needed_by_is_a_date_today_or_later(app_context):
    yesterday, now = today() - timedelta(days=1), today()
    assert only_error({**MINIMAL, "needed_by": yesterday.isoformat()}, "needed_by") == (
        f"must not be in the past (today is {now.isoformat()}, UTC)"
    )
    assert only_error({**MINIMAL, "needed_by": "2027-02-30"}, "needed_by") == (
        "2027-02-30 is not a date on the calendar"
    )
    for written in ("01/02/2027", "20270201", "next week", 20270201, "", " 2099-01-01"):
        message = only_error({**MINIMAL, "needed_by": written}, "needed_by")
        assert message == "must be a date written YYYY-MM-DD"
    assert parse_request({**MINIMAL, "needed_by": now.isoformat()}).needed_by == now
    later = now + timedelta(days=3)
    assert parse_request({**MINIMAL, "needed_by": later}).needed_by == later
    assert parse_request(form(**MINIMAL, needed_by=f" {later.isoformat()} ")).needed_by == later


def test_a_written_reference_needs_a_question(app_context):
    raw = {**MINIMAL, "format": "written"}
    assert only_error(raw, "questions") == "a written reference needs at least one question"
    assert only_error({**raw, "questions": []}, "questions") == (
        "a written reference needs at least one question"
    )
    assert only_error(form(**raw, questions=" \n \n"), "questions") == (
        "a written reference needs at least one question"
    )
    assert parse_request({**raw, "questions": ["Why?"]}).questions == ["Why?"]


def test_list_items_are_not_blank(app_context):
    blank = {**MINIMAL, "use_cases": ["Billing", " "]}
    assert only_error(blank, "use_cases") == "item 2 is empty: leave it out"


def test_list_items_have_a_length_limit(app_context):
    long_tag, long_question = "t" * 121, "q" * 501
    errors = errors_of({
        **MINIMAL, "use_cases": [long_tag], "competitors": ["Acme", long_tag], "topics": [long_tag],
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
    repeated = {**MINIMAL, "use_cases": ["Same"] * 21}
    assert only_error(repeated, "use_cases") == "at most 20 items (this has 21)"
    assert only_error(form(**MINIMAL, questions="\n".join(too_many)), "questions") == (
        "at most 20 items (this has 21)"
    )
    assert len(parse_request({**MINIMAL, "competitors": too_many[:20]}).competitors) == 20


@pytest.mark.parametrize(
    ("value", "message"),
    [({"a": 1}, "must be a list of texts"), (5, "must be a list of texts"),
     ("Patient scheduling", "must be a list of texts"), ("a; b", "must be a list of texts"),
     (["ok", 5], "item 2 is not text: the list must hold texts only")],
)
def test_lists_hold_texts(app_context, value, message):
    assert only_error({**MINIMAL, "use_cases": value}, "use_cases") == message


def test_notes_keep_their_lines_up_to_five_thousand_characters(app_context):
    assert only_error({**MINIMAL, "notes": "n" * 5001}, "notes") == "at most 5,000 characters (this is 5,001)"
    assert parse_request({**MINIMAL, "notes": "a\n\nb"}).notes == "a\n\nb"


def test_unknown_keys_are_named(app_context):
    assert list(errors_of(form(**MINIMAL, colour="blue"))) == ["colour"]
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
    assert error.errors["format"] == [f"unknown format 'fax': {FORMATS}"]
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
