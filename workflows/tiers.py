"""Tiers: what each one is (names, quotas, thresholds, benefits, edited by an admin), and how an
advocate moves between them (a coordinator's change, or a suggestion from the points earned over
the last 12 months that the nightly job makes and a coordinator approves, or that applies itself
where the setting says so). Quotas are derived from the tier, so they follow a change at once.
"""

from __future__ import annotations

# --- moving advocates between tiers ----------------------------------------------------------


# --- the tiers themselves (admin) ------------------------------------------------------------
