"""``pages.id_path``: a list's many links built from one ``url_for``, the same URLs."""

import pytest
from flask import url_for

from pages import id_path


def test_the_paths_are_url_fors_own(app):
    with app.test_request_context("/"):
        advocate = id_path("admin.advocate", "advocate_id")
        withdraw = id_path("admin.withdraw_ask", "ask_id", request_id=7)
        for number in (1, 42, 2_147_483_647):
            assert advocate(number) == url_for("admin.advocate", advocate_id=number)
            assert withdraw(number) == url_for("admin.withdraw_ask", request_id=7, ask_id=number)


def test_only_whole_numbers_go_in(app):
    with app.test_request_context("/"):
        advocate = id_path("admin.advocate", "advocate_id")
        with pytest.raises(ValueError):
            advocate("1/../../x")
        assert id_path("admin.pool", "page")(3) == url_for("admin.pool", page=3)  # a query argument too
