"""Every data table names each cell's column in the cell itself (``data-label``), so that on a
phone, where the stylesheet stacks each row into a card, every value still says what it is."""

from __future__ import annotations

from html.parser import HTMLParser

from sqlalchemy import select

from models import (
    Perk,
    PerkKind,
    PointsEntry,
    PointsReason,
    Redemption,
    RedemptionStatus,
    Role,
    Tier,
    db,
)
from tests.admin.test_imports_page import DATA, upload


class Tables(HTMLParser):
    """The tables of a page: per table its header texts and, per body row, each cell's
    ``data-label`` (None when it has none)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[dict] = []
        self._header: str | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append({"headers": [], "rows": []})
        elif not self.tables:
            return
        elif tag == "th":
            self._header = ""
        elif tag == "tr":
            self.tables[-1]["rows"].append([])
        elif tag == "td":
            self.tables[-1]["rows"][-1].append(dict(attrs).get("data-label"))

    def handle_endtag(self, tag):
        if tag == "th" and self._header is not None:
            self.tables[-1]["headers"].append(" ".join(self._header.split()))
            self._header = None

    def handle_data(self, data):
        if self._header is not None:
            self._header += data


def assert_cells_labelled(html: str) -> int:
    """Every body cell's data-label is its column's header; returns how many rows were checked."""
    parser = Tables()
    parser.feed(html)
    assert parser.tables, "the page has no table"
    checked = 0
    for table in parser.tables:
        for cells in table["rows"]:
            if not cells:  # the header row
                continue
            assert cells == table["headers"], (cells, table["headers"])
            checked += 1
    assert checked, "no table has a body row"
    return checked


def page(http, url: str) -> str:
    response = http.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    return response.get_data(as_text=True)


def test_the_pool_and_the_request_queue_label_every_cell(client, make_account, sign_in, make_advocate,
                                                          make_request):
    make_advocate(name="Dana Example")
    make_advocate(name="Una Tiered", tier=None, status="paused")
    make_request(prospect_company="Zephyr Hospitals AG")
    sign_in(make_account(role=Role.COORDINATOR))

    assert assert_cells_labelled(page(client, "/admin/advocates")) == 2
    assert assert_cells_labelled(page(client, "/admin/requests")) == 1


def test_the_sellers_queue_labels_every_cell_without_the_requested_by_column(client, make_account, sign_in,
                                                                             make_request):
    seller = make_account(role=Role.SALES)
    make_request(requested_by=seller)
    sign_in(seller)
    html = page(client, "/admin/requests")
    assert assert_cells_labelled(html) == 1
    assert 'data-label="Requested by"' not in html


def test_the_import_problems_label_every_cell(client, make_account, sign_in):
    sign_in(make_account(role=Role.COORDINATOR))
    response = upload(client, "advocates", DATA / "advocates_bad.csv")
    assert response.status_code == 422, response.status_code
    assert assert_cells_labelled(response.get_data(as_text=True)) > 1


def test_the_redemptions_and_the_points_ledger_label_every_cell(app, client, make_advocate, sign_in):
    advocate = make_advocate(tier="Active")
    with app.app_context():
        perk = Perk(name="Training credits", kind=PerkKind.REDEEMABLE, points_cost=60,
                    min_tier=db.session.scalar(select(Tier).where(Tier.name == "Active")))
        db.session.add(perk)
        for delta, reason in ((100, PointsReason.CALL_COMPLETED), (-60, PointsReason.REDEMPTION)):
            db.session.add(PointsEntry(advocate_id=advocate.id, delta=delta, reason=reason.value))
        db.session.add(Redemption(advocate_id=advocate.id, perk=perk, points_spent=60,
                                  status=RedemptionStatus.REQUESTED))
        db.session.commit()
    sign_in(advocate.account)

    assert assert_cells_labelled(page(client, "/portal/perks")) == 1
    assert assert_cells_labelled(page(client, "/portal/history")) == 2
