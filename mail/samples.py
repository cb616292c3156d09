"""Sample data for every e-mail of the catalogue, for the admin's preview (``/admin/mail/preview``).

Each template gets one or more variants (label, context) holding everything the template reads:
the preview renders strictly, so a variable left out here is an error there, and a template
added to ``templates/mail/`` without its entry here fails the preview's test. The links point at
``BASE_URL`` with a made-up token that opens nothing.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

Variants = list[tuple[str, dict[str, Any]]]


def samples(base_url: str, now: datetime | None = None) -> dict[str, Variants]:
    """``{template: [(label, context), …]}`` for every e-mail there is."""
    now = now or datetime(2026, 5, 4, 15, 0, tzinfo=UTC)
    berlin, new_york = ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York")
    starts = (now + timedelta(days=3)).replace(hour=15, minute=0, second=0, microsecond=0)

    def url(path: str) -> str:
        return f"{base_url}{path}"

    tier = {"name": "Premier"}
    progress_next = {
        "points": 340,
        "points_to_next": 160,
        "percent": 68,
        "tier": {"name": "Active"},
        "next_tier": tier,
    }
    progress_top = {"points": 900, "points_to_next": 0, "percent": 100, "tier": tier, "next_tier": None}
    healthcare = {"name": "Healthcare"}
    request = {
        "id": 42,
        "prospect_company": "Zephyr Hospitals AG",
        "opportunity_name": "Zephyr – EHR rollout",
        "contact_name": "Pat Prospect",
        "contact_email": "pat@prospect.example",
        "status": "matched",
        "format": {"name": "Call"},
        "industry": healthcare,
        "needed_by": (now + timedelta(days=14)).date(),
    }
    dana = {
        "name": "Dana Whitfield",
        "job_title": "Head of Clinical IT",
        "company": "Northwind Health",
        "talking_points": "How we moved 40 clinics in six weeks, and what we would do differently.",
    }
    seller = {"name": "Sam Seller"}
    join = "Video call: https://meet.example/dana-whitfield"
    ask_context = {
        "name": "Dana Whitfield",
        "industry": "Healthcare",
        "size": "1001–5000",
        "region": "Europe",
        "topics": ["Implementation", "Security"],
        "use_cases": ["EHR migration"],
        "format_name": "Call",
        "written": False,
        "question_count": 0,
        "needed_by": request["needed_by"],
        "reasons": [
            {"label": "Same industry", "points": 25},
            {"label": "Covers Implementation", "points": 15},
        ],
        "score": 78,
        "answer_by": (now + timedelta(hours=48)).astimezone(berlin),
        "link": url("/portal/asks/7"),
    }
    call = {"format_name": "Call", "minutes": 30, "join": join, "company": "Zephyr Hospitals AG"}
    booking_advocate = {
        **call,
        "recipient_name": "Dana Whitfield",
        "other_name": "Pat Prospect",
        "for_advocate": True,
        "starts": starts.astimezone(berlin),
        "zone": "Europe/Berlin",
        "manage_link": None,
        "portal_link": url("/portal#calls"),
        "reason": "",
    }
    booking_prospect = {
        **booking_advocate,
        "recipient_name": "Pat Prospect",
        "other_name": "Dana Whitfield",
        "for_advocate": False,
        "starts": starts.astimezone(new_york),
        "zone": "America/New_York",
        "manage_link": url("/booking/SAMPLE-TOKEN"),
        "portal_link": None,
    }
    return {
        "sign_in_link": [
            (
                "",
                {
                    "account": {"name": "Dana Whitfield"},
                    "link": url("/sign-in/link/SAMPLE-TOKEN"),
                    "minutes": 10,
                },
            )
        ],
        "request_submitted": [
            (
                "",
                {
                    "recipient": {"name": "Cora Coordinator"},
                    "request": request,
                    "seller": seller,
                    "link": url("/admin/requests/42"),
                    "settings_link": url("/admin/#notifications"),
                },
            )
        ],
        "ask": [
            ("call", ask_context),
            (
                "written",
                {
                    **ask_context,
                    "format_name": "Written",
                    "written": True,
                    "question_count": 3,
                    "reasons": [],
                    "score": 0,
                },
            ),
        ],
        "ask_reminder": [
            (
                "",
                {
                    "name": "Dana Whitfield",
                    "format_name": "Call",
                    "industry": "Healthcare",
                    "asked_at": (now - timedelta(hours=25)).astimezone(berlin),
                    "answer_by": (now + timedelta(hours=23)).astimezone(berlin),
                    "hours_left": 23,
                    "link": url("/portal/asks/7"),
                },
            )
        ],
        "ask_answered": [
            (
                "accepted",
                {
                    "recipient": {"name": "Cora Coordinator"},
                    "answer": "accepted",
                    "request": request,
                    "ask": {"name": "Dana Whitfield", "decline_reason_text": None, "decline_note": ""},
                    "link": url("/admin/requests/42"),
                },
            ),
            (
                "declined",
                {
                    "recipient": {"name": "Sam Seller"},
                    "answer": "declined",
                    "request": {**request, "status": "new"},
                    "ask": {
                        "name": "Dana Whitfield",
                        "decline_reason_text": "Too busy right now",
                        "decline_note": "Back in March.",
                    },
                    "link": url("/admin/requests/42"),
                },
            ),
        ],
        "ask_expired": [
            (
                "",
                {
                    "name": "Dana Whitfield",
                    **{
                        k: ask_context[k]
                        for k in (
                            "industry",
                            "size",
                            "region",
                            "topics",
                            "use_cases",
                            "format_name",
                            "written",
                            "question_count",
                            "needed_by",
                        )
                    },
                    "asked_at": (now - timedelta(days=2)).astimezone(berlin),
                    "link": url("/portal/availability"),
                },
            )
        ],
        "introduction": [
            (
                "",
                {
                    "prospect_name": "Pat Prospect",
                    "seller": seller,
                    "advocate": dana,
                    "format_name": "Call",
                    "minutes": 30,
                    "link": url("/book/SAMPLE-TOKEN"),
                },
            )
        ],
        "booking": [
            ("booked, to the advocate", {**booking_advocate, "what": "booked"}),
            ("booked, to the prospect", {**booking_prospect, "what": "booked"}),
            ("rescheduled", {**booking_prospect, "what": "rescheduled"}),
            ("join details updated", {**booking_advocate, "what": "updated"}),
            (
                "cancelled",
                {**booking_prospect, "what": "cancelled", "reason": "The prospect's board meeting moved."},
            ),
        ],
        "reminder": [
            ("to the advocate", {**booking_advocate, "link": url("/portal/asks/7")}),
            ("to the prospect", {**booking_prospect, "link": url("/booking/SAMPLE-TOKEN")}),
        ],
        "feedback_request": [
            (
                "to the advocate",
                {
                    **booking_advocate,
                    "link": url("/feedback/SAMPLE-TOKEN"),
                    "closes": (now + timedelta(days=14)).date(),
                },
            ),
            ("to the prospect", {**booking_prospect, "link": url("/feedback/SAMPLE-TOKEN"), "closes": None}),
        ],
        "thank_you": [
            (
                "towards the next tier",
                {
                    "name": "Dana Whitfield",
                    "format_name": "Call",
                    "company": "Zephyr Hospitals AG",
                    "earned": 120,
                    "balance": 340,
                    "progress": progress_next,
                    "link": url("/portal/history"),
                    "perks_link": url("/portal/perks"),
                },
            ),
            (
                "top tier",
                {
                    "name": "Dana Whitfield",
                    "format_name": "Call",
                    "company": None,
                    "earned": 100,
                    "balance": 900,
                    "progress": progress_top,
                    "link": url("/portal/history"),
                    "perks_link": url("/portal/perks"),
                },
            ),
        ],
        "outcome_request": [
            (
                "",
                {
                    "seller": seller,
                    "request": request,
                    "won": url("/outcome/SAMPLE-WON"),
                    "lost": url("/outcome/SAMPLE-LOST"),
                    "link": url("/admin/requests/42"),
                },
            )
        ],
        "written_answers_submitted": [
            (
                "",
                {
                    "asker": {"name": "Cora Coordinator"},
                    "advocate_name": "Dana Whitfield",
                    "again": False,
                    "count": 3,
                    "request": request,
                    "link": url("/admin/requests/42#written"),
                },
            )
        ],
        "written_returned": [
            (
                "",
                {
                    "name": "Dana Whitfield",
                    "coordinator": "Cora Coordinator",
                    "company": "Zephyr Hospitals AG",
                    "note": "Could you name the team size?",
                    "link": url("/portal/written/9"),
                },
            )
        ],
        "written_ready": [
            (
                "to the prospect",
                {
                    "prospect_name": "Pat Prospect",
                    "for_seller": False,
                    "company": "Zephyr Hospitals AG",
                    "seller": seller,
                    "advocate": dana,
                    "count": 3,
                    "until": (now + timedelta(days=30)).date(),
                    "link": url("/read/SAMPLE-TOKEN"),
                },
            ),
            (
                "to the seller, no contact given",
                {
                    "prospect_name": "Sam Seller",
                    "for_seller": True,
                    "company": "Zephyr Hospitals AG",
                    "seller": None,
                    "advocate": dana,
                    "count": 1,
                    "until": (now + timedelta(days=30)).date(),
                    "link": url("/read/SAMPLE-TOKEN"),
                },
            ),
        ],
        "written_thank_you": [
            (
                "",
                {
                    "name": "Dana Whitfield",
                    "company": "Zephyr Hospitals AG",
                    "earned": 60,
                    "balance": 400,
                    "progress": progress_next,
                    "link": url("/portal#tier"),
                },
            )
        ],
        "redemption_requested": [
            (
                "",
                {
                    "advocate": {
                        "account": {"name": "Dana Whitfield"},
                        "company": {"name": "Northwind Health"},
                    },
                    "perk": {"name": "Branded hoodie"},
                    "redemption": {"points_spent": 150, "note": "Size M, please."},
                    "link": url("/admin/redemptions#redemption-3"),
                },
            )
        ],
        "redemption_decided": [
            (
                "fulfilled",
                {
                    "name": "Dana Whitfield",
                    "perk_name": "Branded hoodie",
                    "fulfilled": True,
                    "points": 150,
                    "note": "",
                    "perks_link": url("/portal/perks#redemption-3"),
                },
            ),
            (
                "rejected",
                {
                    "name": "Dana Whitfield",
                    "perk_name": "Branded hoodie",
                    "fulfilled": False,
                    "points": 150,
                    "note": "Out of stock until March: redeem it again then.",
                    "perks_link": url("/portal/perks#redemption-3"),
                },
            ),
        ],
        "left_program": [("", {"left_at": now})],
        "introduction_withdrawn": [
            (
                "",
                {
                    "prospect_name": "Pat Prospect", "advocate_name": "Dana Whitfield",
                    "format_name": "Call", "reason": "A customer visit came up that week.",
                    "seller": {"name": "Sam Seller"},
                },
            ),
            (
                "no seller, no reason",
                {
                    "prospect_name": None, "advocate_name": "Dana Whitfield", "format_name": "Call",
                    "reason": "", "seller": None,
                },
            ),
        ],
        "program_invitation": [
            (
                "",
                {
                    "name": "Avery Chen", "company": "Initech", "inviter": "Cora Coordinator",
                    "link": url("/join/SAMPLE-TOKEN"), "days": 30, "sent_on": now,
                    "entry_tier": "Occasional", "calls_a_quarter": 2,
                    "unsubscribe_link": url("/unsubscribe/SAMPLE-TOKEN"),
                },
            ),
            (
                "no tiers yet",
                {
                    "name": None, "company": None, "inviter": "Cora Coordinator",
                    "link": url("/join/SAMPLE-TOKEN"), "days": 30, "sent_on": now,
                    "entry_tier": None, "calls_a_quarter": None,
                    "unsubscribe_link": url("/unsubscribe/SAMPLE-TOKEN"),
                },
            ),
        ],
        "program_invitation_reminder": [
            (
                "",
                {
                    "name": "Avery Chen", "company": "Initech", "inviter": "Cora Coordinator",
                    "link": url("/join/SAMPLE-TOKEN"), "days": 30, "sent_on": now - timedelta(days=7),
                    "entry_tier": "Occasional", "calls_a_quarter": 2,
                    "unsubscribe_link": url("/unsubscribe/SAMPLE-TOKEN"),
                },
            )
        ],
        "availability_nudge": [
            (
                "",
                {
                    "name": "Dana Whitfield",
                    "zone": "Europe/Berlin",
                    "windows": [
                        {"day": "Tuesday", "starts": time(9), "ends": time(12)},
                        {"day": "Thursday", "starts": time(14), "ends": time(17, 30)},
                    ],
                    "blackouts": [
                        {"starts_on": date(2026, 8, 3), "ends_on": date(2026, 8, 21), "reason": "Holiday"}
                    ],
                    "snoozed_until": None,
                    "quarterly_limit": 4,
                    "formats": ["Call", "Video call"],
                    "reviewed_on": (now - timedelta(days=95)).date(),
                    "days": 90,
                    "confirm_link": url("/review/SAMPLE-TOKEN"),
                    "availability_link": url("/portal/availability"),
                    "unsubscribe_link": url("/unsubscribe/SAMPLE-TOKEN"),
                },
            )
        ],
        **_advocate_management(url),
    }


def _advocate_management(url) -> dict[str, Variants]:
    """A coordinator's changes to an advocate's place in the program."""
    premier = ["Quarterly executive briefings", "Early access to beta features (30 days in advance)",
               "Annual credits ($5K)"]
    return {
        "tier_changed": [
            ("promoted", {"name": "Dana Whitfield", "tier_name": "Premier", "previous_tier": "Active",
                          "promoted": True, "benefits": premier, "quarterly_quota": 6, "cap_before": None,
                          "cap_after": None, "portal_link": url("/portal")}),
            ("moved down, personal limit lowered",
             {"name": "Dana Whitfield", "tier_name": "Occasional", "previous_tier": "Active",
              "promoted": False, "benefits": ["Product preview webinars"], "quarterly_quota": 2,
              "cap_before": 3, "cap_after": 2, "portal_link": url("/portal")}),
        ],
        "advocate_paused": [
            ("", {"name": "Dana Whitfield", "asks_withdrawn": 1, "calls_kept": 2,
                  "portal_link": url("/portal")}),
            ("nothing going on", {"name": "Dana Whitfield", "asks_withdrawn": 0, "calls_kept": 0,
                                  "portal_link": url("/portal")}),
        ],
        "advocate_resumed": [
            ("", {"name": "Dana Whitfield", "quarterly_limit": 4,
                  "availability_link": url("/portal/availability")}),
        ],
        "advocate_retired": [
            ("", {"name": "Dana Whitfield", "asks_withdrawn": 1, "calls_cancelled": 1,
                  "portal_link": url("/portal")}),
            ("nothing going on", {"name": "Dana Whitfield", "asks_withdrawn": 0, "calls_cancelled": 0,
                                  "portal_link": url("/portal")}),
        ],
    }
