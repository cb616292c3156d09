"""The demo loader: builds the program the tables of ``demo/data.py`` describe.

Everything the tables leave open is drawn from ``random.Random(SEED)``, and every date is
relative to the moment of loading, so the demo looks alive whenever it is loaded. Everything is
inserted in one transaction (``workflows.transaction``). The summary is kept in the
``demo_loaded`` setting: a second run finds it and returns the same summary, changing nothing.

The demo writes what the workflows would have written, the way they write it: points as the
configuration awards them (``POINTS_*``), and timeline lines through ``workflows.timeline``,
keeping ids and codes only (advocate, ask and engagement ids, a decline reason's code), never a
name or a note: the request page looks names up when it shows a line.
"""

from __future__ import annotations

import random
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from demo import data
from models import (
    SIZE_BANDS,
    Account,
    Advocate,
    AdvocateCompetitor,
    AdvocateStatus,
    AdvocateTopic,
    Ask,
    AskStatus,
    Blackout,
    Company,
    Competitor,
    CompetitorRelation,
    Engagement,
    EngagementStatus,
    Feedback,
    FeedbackSide,
    Format,
    Industry,
    Perk,
    PerkKind,
    PointsEntry,
    Product,
    Redemption,
    RedemptionStatus,
    ReferenceRequest,
    Region,
    RequestOutcome,
    RequestStatus,
    Role,
    Setting,
    Tier,
    Topic,
    TopicStance,
    UseCase,
    WeeklyWindow,
    WrittenAnswer,
    db,
    quarter_of,
    size_band,
)
from models._columns import name_key
from models.types import utcnow
from workflows import settings
from workflows.audit import add_event
from workflows.progress import Progress, ProgressCallback
from workflows.timeline import record
from workflows.transaction import transaction

DEMO_SETTING = "demo_loaded"
ROLE_ORDER = ("advocate", "sales", "coordinator", "admin")
ASK_LIFETIME = timedelta(hours=48)
RELATIONS = list(CompetitorRelation)
GOOD_RATING = 4  # a prospect's rating from which the call earns the good-feedback points

class DemoError(RuntimeError):
    """The demo cannot be loaded into this database; the message says why."""


@dataclass(frozen=True)
class DemoAccount:
    role: str
    email: str
    name: str
    detail: str = ""


@dataclass(frozen=True)
class DemoSummary:
    """What was loaded, and the accounts to sign in with (one per role)."""

    accounts: tuple[DemoAccount, ...]
    counts: dict[str, int]
    already_loaded: bool = False

    def describe(self) -> str:
        c = self.counts
        head = (
            "The demo program was already loaded; nothing was changed."
            if self.already_loaded
            else "Loaded the demo program."
        )
        lines = [
            head,
            f"  {c['companies']} customer companies, {c['advocates']} advocates "
            f"({c['active_advocates']} active), {c['sales']} sales, {c['coordinators']} coordinators, "
            f"{c['admins']} admin",
            f"  {c['requests']} reference requests, {c['asks']} asks, {c['engagements']} engagements, "
            f"{c['perks']} perks, {c['redemptions']} redemptions",
            "",
            "Sign in with one of these demo accounts (no passwords: type the e-mail address on the",
            "sign-in page):",
        ]
        width = max(len(a.email) for a in self.accounts)
        for account in self.accounts:
            name = f"{account.name} ({account.detail})" if account.detail else account.name
            lines.append(f"  {account.role:<12} {account.email:<{width}}  {name}")
        lines += [
            "",
            "In development the sign-in link appears in the server log",
            '("Development sign-in link for …"), so no mail server is needed.',
            "The admin then gives a second factor: at the first sign-in they set up an",
            "authenticator app (any app for one-time codes) from the QR code or the key the page",
            "shows, and keep the ten recovery codes; later sign-ins ask for a code from the app.",
        ]
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "accounts": [vars(a) for a in self.accounts],
            "counts": dict(self.counts),
        }

    @classmethod
    def from_json(cls, value: dict[str, Any], already_loaded: bool) -> DemoSummary:
        accounts = tuple(DemoAccount(**a) for a in value["accounts"])
        return cls(accounts=accounts, counts=dict(value["counts"]), already_loaded=already_loaded)


def load_demo(on_progress: ProgressCallback | None = None) -> DemoSummary:
    """Load the demo program once; later calls return the first call's summary."""
    progress = Progress(on_progress)
    with transaction():
        marker = db.session.get(Setting, DEMO_SETTING)
        if marker is not None:
            summary = DemoSummary.from_json(marker.value, already_loaded=True)
        else:
            summary = _DemoBuilder(progress, points=_Points.from_config()).build()
            db.session.add(Setting(key=DEMO_SETTING,
                                   value={**summary.to_json(), "loaded_at": _iso(utcnow())}))
            add_event("demo.loaded", subject=DEMO_SETTING, **summary.counts)
    progress.finish()
    return summary


@dataclass(frozen=True)
class _Points:
    """What each finished piece of work earns, from the program settings (DESIGN.md §5 "Points")."""

    call_completed: int
    written_reference: int
    good_feedback: int
    case_study_or_event: int

    @classmethod
    def from_config(cls) -> _Points:
        return cls(
            call_completed=settings.value("POINTS_CALL_COMPLETED"),
            written_reference=settings.value("POINTS_WRITTEN_REFERENCE"),
            good_feedback=settings.value("POINTS_GOOD_FEEDBACK"),
            case_study_or_event=settings.value("POINTS_CASE_STUDY_OR_EVENT"),
        )


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _slug(text: str, separator: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    words = re.findall(r"[a-z0-9]+", ascii_text.replace("'", ""))
    return separator.join(words)


def advocate_email(name: str, company: str) -> str:
    if name == data.FEATURED_ADVOCATE:
        return data.FEATURED_ADVOCATE_EMAIL
    return f"{_slug(name, '.')}@{_slug(company, '-')}.example"


def _clock(value: str) -> time:
    return time.fromisoformat(value)


@dataclass
class _PointsAward:
    advocate: Advocate
    delta: int
    reason: str
    source_type: str | None
    source: Any  # the engagement or redemption (its id is known after the flush)
    at: datetime
    note: str = ""


@dataclass
class _DemoBuilder:
    """Adds the demo to the session, step by step; ``build`` returns the summary."""

    progress: Progress
    points: _Points
    rng: random.Random = field(default_factory=lambda: random.Random(data.SEED))
    now: datetime = field(default_factory=utcnow)
    counts: dict[str, int] = field(default_factory=dict)
    tags: dict[tuple[type, str], Any] = field(default_factory=dict)
    companies: dict[str, Company] = field(default_factory=dict)
    staff: dict[str, list[Account]] = field(default_factory=dict)
    advocates: dict[str, Advocate] = field(default_factory=dict)
    perks: dict[str, Perk] = field(default_factory=dict)
    awards: list[_PointsAward] = field(default_factory=list)
    call_days: set[tuple[str, date]] = field(default_factory=set)
    timeline: dict[int, list[datetime]] = field(default_factory=dict)  # request id → its lines' times
    industries: dict[str, Industry] = field(default_factory=dict)
    regions: dict[str, Region] = field(default_factory=dict)
    topics: dict[str, Topic] = field(default_factory=dict)
    formats: dict[str, Format] = field(default_factory=dict)
    tiers: dict[str, Tier] = field(default_factory=dict)

    @property
    def today(self) -> date:
        return self.now.date()

    def build(self) -> DemoSummary:
        self.refuse_clashes()
        self.load_catalogues()
        self.progress.to(5)
        self.add_companies()
        self.progress.to(15)
        self.add_staff()
        self.progress.to(20)
        self.add_advocates()
        db.session.flush()  # the requests' timeline keeps the ids of advocates and staff
        self.progress.to(50)
        self.add_perks()
        self.add_recognition()
        self.progress.to(60)
        for spec in data.REQUESTS:
            self.add_request(spec)
        self.progress.to(85)
        self.add_redemptions()
        db.session.flush()  # points entries point at engagements and redemptions by id
        self.add_points()
        self.progress.to(90)
        return self.summary()

    # -- before anything: the demo's names must be free -------------------------------------

    def refuse_clashes(self) -> None:
        emails = [row[1] for row in data.STAFF] + [advocate_email(a[0], a[1]) for a in data.ADVOCATES]
        keys = [name_key(row[0]) for row in data.COMPANIES]
        taken = list(db.session.scalars(select(Account.email).where(Account.email.in_(emails))))
        taken += db.session.scalars(select(Company.name).where(Company.name_key.in_(keys)))
        if taken:
            raise DemoError(
                "the database already holds demo names, so the demo was not loaded: "
                + ", ".join(sorted(taken)[:5])
                + (" …" if len(taken) > 5 else "")
            )

    # -- reference data the migration seeded --------------------------------------------------

    def load_catalogues(self) -> None:
        self.industries = {i.name: i for i in db.session.scalars(select(Industry))}
        self.regions = {r.name: r for r in db.session.scalars(select(Region))}
        self.topics = {t.name: t for t in db.session.scalars(select(Topic).order_by(Topic.id))}
        self.formats = {f.code: f for f in db.session.scalars(select(Format))}
        self.tiers = {t.name: t for t in db.session.scalars(select(Tier))}

    def tag(self, model: type, name: str):
        """A free tag (use case, product, competitor), created once."""
        cache_key = (model, name_key(name))
        if cache_key not in self.tags:
            found = db.session.scalar(select(model).where(model.key == name_key(name)))
            if found is None:
                found = model(name=name)
                db.session.add(found)
            self.tags[cache_key] = found
        return self.tags[cache_key]

    # -- customers and staff ------------------------------------------------------------------

    def add_companies(self) -> None:
        with_advocates = {row[1] for row in data.ADVOCATES}
        for number, (name, industry, region, employees) in enumerate(data.COMPANIES, start=1):
            happy = name in with_advocates
            company = Company(
                name=name,
                industry=self.industries[industry],
                region=self.regions[region],
                employees=employees,
                health_score=self.rng.randint(70, 98) if happy else self.rng.randint(35, 95),
                nps=self.rng.randint(30, 80) if happy else self.rng.randint(-30, 70),
                renewal_date=self.today + timedelta(days=self.rng.randint(15, 420)),
                customer_since=self.today - timedelta(days=self.rng.randint(180, 2900)),
                crm_id=f"ACC-{4000 + number * 7:06d}",
            )
            db.session.add(company)
            self.companies[name] = company
        self.counts["companies"] = len(self.companies)

    def add_staff(self) -> None:
        for role, email, name, zone in data.STAFF:
            account = Account(email=email, name=name, role=Role(role), timezone=zone,
                              created_at=self.now - timedelta(days=400))
            db.session.add(account)
            self.staff.setdefault(role, []).append(account)
        self.counts["sales"] = len(self.staff["sales"])
        self.counts["coordinators"] = len(self.staff["coordinator"])
        self.counts["admins"] = len(self.staff["admin"])

    @property
    def coordinator(self) -> Account:
        return self.staff["coordinator"][0]

    # -- advocates ----------------------------------------------------------------------------

    def add_advocates(self) -> None:
        for row in data.ADVOCATES:
            advocate = self.add_advocate(*row)
            self.advocates[advocate.account.name] = advocate
        for name, days in data.SNOOZED.items():
            self.advocates[name].snoozed_until = self.today + timedelta(days=days)
        for name, first, last, reason in data.BLACKOUTS:
            self.advocates[name].blackouts.append(Blackout(
                starts_on=self.today + timedelta(days=first),
                ends_on=self.today + timedelta(days=last),
                reason=reason,
            ))
        for name, cap in data.QUARTERLY_CAPS.items():
            self.advocates[name].quarterly_cap = cap
        for name, companies in data.REFUSED_COMPANIES.items():
            self.advocates[name].refused_companies = list(companies)
        statuses = [a.status for a in self.advocates.values()]
        self.counts["advocates"] = len(statuses)
        self.counts["active_advocates"] = statuses.count(AdvocateStatus.ACTIVE)

    def add_advocate(self, name, company_name, zone, level, title, tier, formats, status) -> Advocate:
        status = AdvocateStatus(status)
        joined = status in (AdvocateStatus.ACTIVE, AdvocateStatus.PAUSED)
        consent_at = self.now - timedelta(days=self.rng.randint(60, 900)) if joined else None
        created_at = (consent_at or self.now - timedelta(days=self.rng.randint(2, 30))) - timedelta(days=14)
        account = Account(
            email=advocate_email(name, company_name), name=name, role=Role.ADVOCATE,
            timezone=zone, created_at=created_at,
        )
        advocate = Advocate(
            account=account,
            company=self.companies[company_name],
            tier=self.tiers[tier] if tier else None,
            job_title=title,
            job_level_code=level,
            status=status,
            languages=list(data.LANGUAGES_BY_ZONE[zone]),
            created_at=created_at,
        )
        db.session.add(advocate)
        if joined:
            advocate.consent_at = consent_at
            advocate.consent_source = "Reference program agreement accepted in the portal"
            advocate.last_reviewed_at = self.now - timedelta(days=self.rng.randint(2, 140))
            advocate.min_days_between_calls = 7 if name == data.FEATURED_ADVOCATE else self.rng.choice(
                [0, 0, 7, 14, 30]
            )
            advocate.formats = [self.formats[code] for code in formats.split()]
            self.fill_profile(advocate)
            self.add_windows(advocate, name == data.FEATURED_ADVOCATE)
        return advocate

    def fill_profile(self, advocate: Advocate) -> None:
        rng = self.rng
        sector = advocate.company.industry.sector
        advocate.products = [self.tag(Product, p) for p in rng.sample(data.PRODUCTS, rng.randint(1, 3))]
        use_cases = data.USE_CASES_BY_SECTOR[sector]
        advocate.use_cases = [self.tag(UseCase, u) for u in rng.sample(use_cases, rng.randint(1, 2))]
        topics = list(self.topics.values())
        glad = rng.sample(topics, rng.randint(2, 5))
        rest = [t for t in topics if t not in glad]
        avoid = [rng.choice(rest)] if rng.random() < 0.35 else []
        advocate.topics = [AdvocateTopic(topic=t, stance=TopicStance.GLAD) for t in glad] + [
            AdvocateTopic(topic=t, stance=TopicStance.AVOID) for t in avoid
        ]
        competitors = rng.sample(data.COMPETITORS, rng.choice([0, 1, 1, 2]))
        advocate.competitors = [
            AdvocateCompetitor(competitor=self.tag(Competitor, c), relation=rng.choice(RELATIONS))
            for c in competitors
        ]
        advocate.success_metrics = "\n".join(rng.sample(data.SUCCESS_METRICS, 2))
        advocate.talking_points = "\n".join(rng.sample(data.TALKING_POINTS, 2))

    def add_windows(self, advocate: Advocate, featured: bool) -> None:
        pattern = (
            data.WINDOW_PATTERNS[data.FEATURED_WINDOWS] if featured else self.rng.choice(data.WINDOW_PATTERNS)
        )
        advocate.windows = [
            WeeklyWindow(weekday=weekday, starts=_clock(starts), ends=_clock(ends))
            for weekday, starts, ends in pattern
        ]

    # -- perks and recognition ----------------------------------------------------------------

    def add_perks(self) -> None:
        for name, description, tier, cost in data.PERKS:
            perk = Perk(
                name=name, description=description, min_tier=self.tiers[tier],
                kind=PerkKind.BENEFIT if cost is None else PerkKind.REDEEMABLE, points_cost=cost,
                stock=data.PERK_STOCK.get(name),
            )
            db.session.add(perk)
            self.perks[name] = perk
        self.counts["perks"] = len(self.perks)

    def add_recognition(self) -> None:
        """Case studies and talks recorded by a coordinator over the past year."""
        for advocate in self.advocates.values():
            if advocate.tier is None or advocate.consent_at is None:
                continue
            low, high = data.RECOGNITION_BY_TIER[advocate.tier.name]
            for number in range(self.rng.randint(low, high)):
                reason, note = data.RECOGNITION[number % len(data.RECOGNITION)]
                self.awards.append(_PointsAward(
                    advocate, self.points.case_study_or_event, reason, None, None,
                    at=self.now - timedelta(days=self.rng.randint(45, 340)), note=note,
                ))

    def add_redemptions(self) -> None:
        for number, (name, perk_name, status) in enumerate(data.REDEMPTIONS):
            advocate, perk = self.advocates[name], self.perks[perk_name]
            balance = sum(a.delta for a in self.awards if a.advocate is advocate)
            if balance < perk.points_cost:
                raise DemoError(f"demo data: {name} cannot afford {perk_name}")
            requested_at = self.now - timedelta(days=40 if status == "fulfilled" else 2, hours=number)
            redemption = Redemption(
                perk=perk, advocate=advocate, status=RedemptionStatus(status),
                points_spent=perk.points_cost, requested_at=requested_at,
            )
            if redemption.status is RedemptionStatus.FULFILLED:
                redemption.decided_at = requested_at + timedelta(days=2)
                redemption.decided_by_id = self.coordinator.id
            db.session.add(redemption)
            self.awards.append(_PointsAward(
                advocate, -perk.points_cost, "redemption", "redemption", redemption, requested_at,
                note=perk.name,
            ))
        self.counts["redemptions"] = len(data.REDEMPTIONS)

    def add_points(self) -> None:
        for award in self.awards:
            db.session.add(PointsEntry(
                advocate_id=award.advocate.id,
                delta=award.delta,
                reason=award.reason,
                source_type=award.source_type,
                source_id=award.source.id if award.source is not None else None,
                note=award.note,
                created_at=award.at,
                created_by_id=self.coordinator.id if award.source is None else None,
            ))

    # -- reference requests, replayed step by step --------------------------------------------

    def add_request(self, spec: dict[str, Any]) -> ReferenceRequest:
        call = self.call_slot(spec) if "call_in" in spec else None
        if call is not None and call[0] < self.now:
            created = call[0] - timedelta(days=spec["age"])
        else:
            created = self.now - timedelta(days=spec["age"])
        request = self.new_request(spec, created)
        self.event(request, created, "submitted", request.requested_by, format=spec["format"])
        accepted = self.add_asks(request, spec, created)
        if accepted is not None:
            engagement = self.engage(request, accepted)
            if call is not None:
                self.book(request, engagement, call)
            if request.status is RequestStatus.COMPLETED:
                self.complete(request, engagement, spec)
            elif request.status is RequestStatus.CANCELLED:
                self.cancel(request, engagement)
        if "outcome" in spec:
            self.record_outcome(request, RequestOutcome(spec["outcome"]))
        request.updated_at = max(self.timeline[request.id])
        self.counts["requests"] = self.counts.get("requests", 0) + 1
        return request

    def new_request(self, spec: dict[str, Any], created: datetime) -> ReferenceRequest:
        contact_name, contact_email = spec["contact"]
        opportunity_id, opportunity_name, amount = spec["opportunity"]
        request = ReferenceRequest(
            requested_by=self.staff["sales"][spec["sales"]],
            opportunity_id=opportunity_id,
            opportunity_name=opportunity_name,
            amount=Decimal(amount),
            prospect_company=spec["prospect"],
            industry=self.industries[spec["industry"]],
            employees=spec["employees"],
            region=self.regions[spec["region"]],
            contact_name=contact_name,
            contact_email=contact_email,
            format=self.formats[spec["format"]],
            needed_by=self.today + timedelta(days=spec["needed_in"]),
            questions=list(spec.get("questions", [])),
            notes=spec["notes"],
            status=RequestStatus(spec["status"]),
            use_cases=[self.tag(UseCase, u) for u in spec["use_cases"]],
            topics=[self.topics[t] for t in spec["topics"]],
            competitors=[self.tag(Competitor, c) for c in spec["competitors"]],
            created_at=created,
        )
        db.session.add(request)
        db.session.flush()  # its timeline is written by the request's id
        return request

    def event(self, request: ReferenceRequest, at: datetime, kind: str, actor: Account | None,
              **detail: Any) -> None:
        """A line of the request's timeline, written as the workflows write it: ids and codes."""
        record(request.id, kind, actor, at, **detail)
        self.timeline.setdefault(request.id, []).append(at)

    def add_asks(self, request: ReferenceRequest, spec: dict[str, Any], created: datetime) -> Ask | None:
        """Asks in the order they were made; returns the accepted one, if any."""
        accepted = None
        for number, (name, result) in enumerate(spec["asks"]):
            advocate = self.advocates[name]
            self.fit_profile(advocate, spec)
            asked_at = created + timedelta(hours=1 + 5 * number)
            reasons = self.reasons(advocate, spec)
            ask = Ask(
                request=request, advocate=advocate, asked_by_id=self.coordinator.id,
                score=sum(r["points"] for r in reasons), explanation=reasons,
                status=AskStatus(result), created_at=asked_at, expires_at=asked_at + ASK_LIFETIME,
            )
            db.session.add(ask)
            db.session.flush()  # the timeline keeps the ask's id
            request.first_asked_at = request.first_asked_at or asked_at
            self.event(request, asked_at, "asked", self.coordinator,
                       advocate_id=advocate.id, ask_id=ask.id, score=ask.score)
            if ask.status is not AskStatus.PENDING:
                ask.responded_at = asked_at + timedelta(hours=4)
            if ask.status is AskStatus.DECLINED:
                ask.decline_reason, ask.decline_note = "busy", data.DECLINE_NOTE
                self.event(request, ask.responded_at, "declined", advocate.account,
                           advocate_id=advocate.id, ask_id=ask.id, reason=ask.decline_reason)
            elif ask.status is AskStatus.ACCEPTED:
                request.matched_at = ask.responded_at
                self.event(request, ask.responded_at, "accepted", advocate.account,
                           advocate_id=advocate.id, ask_id=ask.id)
                accepted = ask
        self.counts["asks"] = self.counts.get("asks", 0) + len(spec["asks"])
        return accepted

    def fit_profile(self, advocate: Advocate, spec: dict[str, Any]) -> None:
        """Make sure an asked advocate really offers what the request needs."""
        if self.formats[spec["format"]] not in advocate.formats:
            raise DemoError(f"demo data: {advocate.account.name} does not offer {spec['format']}")
        use_case = self.tag(UseCase, spec["use_cases"][0])
        if use_case not in advocate.use_cases:
            advocate.use_cases.append(use_case)
        stances = {t.topic.name: t for t in advocate.topics}
        for name in spec["topics"]:
            if name in stances:
                stances[name].stance = TopicStance.GLAD
            else:
                advocate.topics.append(AdvocateTopic(topic=self.topics[name], stance=TopicStance.GLAD))
        known = {c.competitor.name for c in advocate.competitors}
        for name in spec["competitors"][:1]:
            if name not in known:
                advocate.competitors.append(AdvocateCompetitor(
                    competitor=self.tag(Competitor, name), relation=CompetitorRelation.REPLACED
                ))

    def reasons(self, advocate: Advocate, spec: dict[str, Any]) -> list[dict[str, Any]]:
        """Why this advocate fits, in the shape of the matching engine's explanation."""
        company, industry = advocate.company, self.industries[spec["industry"]]
        reasons: list[tuple[str, int]] = []
        if company.industry is industry:
            reasons.append((f"Same industry: {industry.name}", 25))
        elif company.industry.sector == industry.sector:
            reasons.append((f"Same sector group: {industry.sector}", 12))
        bands = [label for label, _low, _high in SIZE_BANDS]
        distance = abs(bands.index(company.size_band) - bands.index(size_band(spec["employees"])))
        if distance <= 1:
            reasons.append(("Same size band" if distance == 0 else "Adjacent size band", 10 - 5 * distance))
        offered = {u.name for u in advocate.use_cases}
        reasons += [(f"Use case: {u}", 8) for u in spec["use_cases"] if u in offered][:2]
        reasons += [(f"Glad to talk about {t}", 5) for t in spec["topics"]][:2]
        relations = {c.competitor.name: c.relation.value for c in advocate.competitors}
        shared = [c for c in spec["competitors"] if c in relations]
        reasons += [(f"{relations[c].capitalize()} {c}", 10) for c in shared][:1]
        if company.region.name == spec["region"]:
            reasons.append((f"Same region: {spec['region']}", 8))
        if advocate.job_level_code in ("executive", "director"):
            reasons.append((f"Job level: {advocate.job_level_code}", 5))
        reasons.append(("Quota left this quarter", 7))
        return [{"label": label, "points": points} for label, points in reasons]

    def engage(self, request: ReferenceRequest, ask: Ask) -> Engagement:
        engagement = Engagement(
            request=request, ask=ask, advocate=ask.advocate, format=request.format,
            status=EngagementStatus.AWAITING_BOOKING, quarter=quarter_of(ask.responded_at),
            prospect_name=request.contact_name, prospect_email=request.contact_email,
            created_at=ask.responded_at,
        )
        db.session.add(engagement)
        db.session.flush()  # the timeline keeps the engagement's id
        self.counts["engagements"] = self.counts.get("engagements", 0) + 1
        return engagement

    def call_slot(self, spec: dict[str, Any]) -> tuple[datetime, datetime]:
        """The first free slot in the advocate's weekly windows from ``call_in`` days on
        (backwards for calls already held), avoiding blackouts and days with another call."""
        name = next(name for name, result in spec["asks"] if result == "accepted")
        advocate = self.advocates[name]
        zone = ZoneInfo(advocate.account.timezone)
        local_today = self.now.astimezone(zone).date()
        step = 1 if spec["call_in"] >= 0 else -1
        length = timedelta(minutes=spec["minutes"])
        for offset in range(spec["call_in"], spec["call_in"] + 21 * step, step):
            day = local_today + timedelta(days=offset)
            if (name, day) in self.call_days or self.blacked_out(advocate, day):
                continue
            for window in advocate.windows:
                starts = datetime.combine(day, window.starts, tzinfo=zone)
                if window.weekday == day.weekday() and (starts + length).time() <= window.ends:
                    self.call_days.add((name, day))
                    return starts.astimezone(UTC), (starts + length).astimezone(UTC)
        raise DemoError(f"demo data: no slot for {name} around day {spec['call_in']}")

    @staticmethod
    def blacked_out(advocate: Advocate, day: date) -> bool:
        return any(b.starts_on <= day <= b.ends_on for b in advocate.blackouts)

    def book(self, request: ReferenceRequest, engagement: Engagement,
             call: tuple[datetime, datetime]) -> None:
        booked_at = engagement.created_at + timedelta(hours=20)
        engagement.status = EngagementStatus.BOOKED
        engagement.starts_at, engagement.ends_at = call
        engagement.quarter = quarter_of(call[0])
        engagement.booked_at = booked_at
        engagement.prospect_timezone = data.PROSPECT_ZONE_BY_REGION[request.region.name]
        request.scheduled_at = booked_at
        self.event(request, booked_at, "booked", None, engagement_id=engagement.id,
                   starts_at=_iso(call[0]), ends_at=_iso(call[1]))

    def complete(self, request: ReferenceRequest, engagement: Engagement, spec: dict[str, Any]) -> None:
        advocate = engagement.advocate
        if engagement.starts_at is not None:
            done_at = engagement.ends_at + timedelta(minutes=10)
            self.awards.append(_PointsAward(advocate, self.points.call_completed, "call_completed",
                                            "engagement", engagement, done_at, note=request.prospect_company))
        else:
            done_at = self.answer_questions(request, engagement, spec)
            self.awards.append(_PointsAward(advocate, self.points.written_reference, "written_reference",
                                            "engagement", engagement, done_at, note=request.prospect_company))
        engagement.status = EngagementStatus.COMPLETED
        engagement.completed_at = request.completed_at = done_at
        self.event(request, done_at, "completed", None, engagement_id=engagement.id)
        self.add_feedback(request, engagement, spec["feedback"], done_at)

    def answer_questions(self, request: ReferenceRequest, engagement: Engagement,
                         spec: dict[str, Any]) -> datetime:
        submitted_at = engagement.created_at + timedelta(days=3)
        approved_at = submitted_at + timedelta(days=1)
        pairs = zip(spec["questions"], spec["answers"], strict=True)
        engagement.answers = [
            WrittenAnswer(position=position, question=question, answer=answer)
            for position, (question, answer) in enumerate(pairs)
        ]
        engagement.answers_submitted_at = submitted_at
        engagement.answers_approved_at = approved_at
        self.event(request, submitted_at, "answers_submitted", engagement.advocate.account,
                   advocate_id=engagement.advocate_id)
        self.event(request, approved_at, "answers_approved", self.coordinator, engagement_id=engagement.id)
        return approved_at

    def add_feedback(self, request: ReferenceRequest, engagement: Engagement,
                     feedback: dict[str, tuple[int, str]], done_at: datetime) -> None:
        delays = {FeedbackSide.PROSPECT: timedelta(days=1), FeedbackSide.ADVOCATE: timedelta(hours=6)}
        for side, delay in delays.items():
            rating, comment = feedback[side.value]
            engagement.feedback.append(Feedback(
                side=side, rating=rating, comment=comment, created_at=done_at + delay,
                helped_decision=rating >= GOOD_RATING if side is FeedbackSide.PROSPECT else None,
            ))
            if side is FeedbackSide.PROSPECT and rating >= GOOD_RATING:
                self.awards.append(_PointsAward(
                    engagement.advocate, self.points.good_feedback, "prospect_feedback", "engagement",
                    engagement, done_at + delay, note=f"Rated {rating}/5 by {request.prospect_company}",
                ))

    def cancel(self, request: ReferenceRequest, engagement: Engagement) -> None:
        cancelled_at = self.now - timedelta(days=1)
        engagement.status = EngagementStatus.CANCELLED
        engagement.cancelled_at = request.cancelled_at = cancelled_at
        engagement.cancel_reason = data.CANCEL_REASON  # the reason stays on the engagement, not the timeline
        self.event(request, cancelled_at, "cancelled", request.requested_by)

    def record_outcome(self, request: ReferenceRequest, outcome: RequestOutcome) -> None:
        at = min(max(self.timeline[request.id]) + timedelta(days=7), self.now - timedelta(hours=1))
        request.outcome, request.outcome_at = outcome, at
        self.event(request, at, "outcome", request.requested_by, outcome=outcome.value)

    # -- the summary --------------------------------------------------------------------------

    def summary(self) -> DemoSummary:
        featured = self.advocates[data.FEATURED_ADVOCATE]
        first = {role: accounts[0] for role, accounts in self.staff.items()}
        accounts = [DemoAccount("advocate", featured.account.email, featured.account.name,
                                featured.company.name)]
        accounts += [DemoAccount(role, first[role].email, first[role].name) for role in ROLE_ORDER[1:]]
        counts = {key: self.counts.get(key, 0) for key in COUNT_KEYS}
        return DemoSummary(accounts=tuple(accounts), counts=counts)


COUNT_KEYS = (
    "companies", "advocates", "active_advocates", "sales", "coordinators", "admins",
    "requests", "asks", "engagements", "perks", "redemptions",
)
