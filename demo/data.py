"""The tables behind ``flask demo load``: a fictional vendor's reference program.

Every name here is made up; e-mail addresses use the reserved ``.example`` domain. The loader
(``demo/loader.py``) reads these tables in order and draws everything else from a seeded random
generator, so the same tables always give the same demo.
"""

from __future__ import annotations

SEED = 2026
STAFF_DOMAIN = "vouch.example"

# (role, e-mail, name, time zone). The first account of each role is the one to sign in with.
STAFF = [
    ("admin", "admin@vouch.example", "Priya Raman", "America/New_York"),
    ("coordinator", "coordinator@vouch.example", "Marta Lindgren", "America/Chicago"),
    ("coordinator", "tobias.keller@vouch.example", "Tobias Keller", "Europe/Berlin"),
    ("sales", "sales@vouch.example", "Jordan Blake", "America/New_York"),
    ("sales", "aisha.bello@vouch.example", "Aisha Bello", "Europe/London"),
    ("sales", "kenji.watanabe@vouch.example", "Kenji Watanabe", "Asia/Tokyo"),
]

# The advocate to sign in with; their row in ADVOCATES below gets this address.
FEATURED_ADVOCATE = "Dana Whitfield"
FEATURED_ADVOCATE_EMAIL = "advocate@northwind.example"

# (name, industry, region, employees): customers of the vendor, about four per industry.
COMPANIES = [
    ("Cobalt Systems", "Technology", "North America", 850),
    ("Fernhill Software", "Technology", "Europe", 230),
    ("Keystone Data", "Technology", "North America", 4200),
    ("Nimbus Labs", "Technology", "Asia Pacific", 60),
    ("Quillon Analytics", "Technology", "Europe", 140),
    ("Telenova", "Telecommunications", "Latin America", 12000),
    ("Skyreach Mobile", "Telecommunications", "Asia Pacific", 8500),
    ("Beacon Fiber", "Telecommunications", "North America", 1600),
    ("Norlink Telecom", "Telecommunications", "Europe", 3100),
    ("Sakura Broadcasting", "Media", "Asia Pacific", 2300),
    ("Redline Studios", "Media", "North America", 320),
    ("Halcyon Media Group", "Media", "Europe", 950),
    ("Savanna Radio", "Media", "Middle East & Africa", 180),
    ("Brightwater Health", "Healthcare", "North America", 14000),
    ("St. Aldric Hospitals", "Healthcare", "Europe", 6800),
    ("Coral Coast Clinics", "Healthcare", "Asia Pacific", 420),
    ("Evergreen Care Partners", "Healthcare", "North America", 2100),
    ("Nilo Saúde", "Healthcare", "Latin America", 3300),
    ("Genovia Therapeutics", "Life Sciences", "Europe", 1200),
    ("Bluepeak Bio", "Life Sciences", "North America", 75),
    ("Helvetia Diagnostics", "Life Sciences", "Europe", 640),
    ("Arcadia Pharma", "Life Sciences", "Asia Pacific", 5200),
    ("Harborview Bank", "Financial Services", "North America", 9500),
    ("Lakeshore Capital", "Financial Services", "North America", 260),
    ("Banco Sereno", "Financial Services", "Latin America", 18000),
    ("Kestrel Payments", "Financial Services", "Europe", 480),
    ("Oasis Finance", "Financial Services", "Middle East & Africa", 1400),
    ("Alpenrück Versicherung", "Insurance", "Europe", 7400),
    ("Summit Mutual", "Insurance", "North America", 3600),
    ("Tidewater Assurance", "Insurance", "North America", 900),
    ("Southern Cross Insurance", "Insurance", "Asia Pacific", 2700),
    ("Granite Works", "Manufacturing", "North America", 5600),
    ("Voltmann Industrie", "Manufacturing", "Europe", 11000),
    ("Precision Parts Co.", "Manufacturing", "North America", 190),
    ("Lotus Electronics", "Manufacturing", "Asia Pacific", 26000),
    ("Atlas Fabrication", "Manufacturing", "Middle East & Africa", 700),
    ("Sunfield Renewables", "Energy", "Europe", 540),
    ("Prairie Grid", "Energy", "North America", 2900),
    ("Desert Sun Power", "Energy", "Middle East & Africa", 3800),
    ("Andes Energía", "Energy", "Latin America", 6100),
    ("Northwind Logistics", "Transportation", "North America", 2400),
    ("Rapid Rail Europe", "Transportation", "Europe", 15000),
    ("Pacific Freightways", "Transportation", "Asia Pacific", 4400),
    ("Cargo Sur", "Transportation", "Latin America", 880),
    ("Copperleaf Outfitters", "Retail", "North America", 1300),
    ("Maison Lumière", "Retail", "Europe", 3900),
    ("FreshCart Markets", "Retail", "North America", 40000),
    ("Kiwi Home", "Retail", "Asia Pacific", 350),
    ("Calder Consulting", "Professional Services", "North America", 1100),
    ("Orbit Legal", "Professional Services", "Europe", 210),
    ("Brightpath Advisory", "Professional Services", "Asia Pacific", 95),
    ("Marlow & Finch", "Professional Services", "Europe", 20),
    ("City of Riverton", "Public Sector", "North America", 3200),
    ("Nordic Transport Agency", "Public Sector", "Europe", 780),
    ("Port Authority of Valemont", "Public Sector", "Middle East & Africa", 1600),
    ("Metro Water District", "Public Sector", "North America", 600),
    ("Westbrook University", "Education", "North America", 5400),
    ("Hanseatic Institute of Technology", "Education", "Europe", 2600),
    ("Lakeview School District", "Education", "North America", 1900),
    ("Universidad del Pacífico Sur", "Education", "Latin America", 4100),
]

# (name, company, time zone, job level, job title, tier or None, formats, status).
# The first 40 are active: 8 Premier, 16 Active, 16 Occasional.
ADVOCATES = [
    ("Dana Whitfield", "Northwind Logistics", "America/Chicago", "executive", "VP of Operations",
     "Premier", "call video written site_visit", "active"),
    ("Rachel Kim", "Harborview Bank", "America/New_York", "executive", "Chief Data Officer",
     "Premier", "call video", "active"),
    ("Sofia Marques", "Telenova", "America/Sao_Paulo", "director", "Director of Customer Analytics",
     "Premier", "call video written", "active"),
    ("Lukas Brandt", "Voltmann Industrie", "Europe/Berlin", "executive", "Chief Operating Officer",
     "Premier", "call video site_visit", "active"),
    ("Amara Osei", "Brightwater Health", "America/New_York", "director", "Director of Clinical Systems",
     "Premier", "call video", "active"),
    ("Hiroshi Tanaka", "Sakura Broadcasting", "Asia/Tokyo", "director", "Head of Audience Insights",
     "Premier", "video written", "active"),
    ("Claire Dubois", "Maison Lumière", "Europe/Paris", "executive", "Chief Digital Officer",
     "Premier", "call video", "active"),
    ("Vikram Nair", "Lotus Electronics", "Asia/Singapore", "executive", "VP of Manufacturing IT",
     "Premier", "call video site_visit", "active"),
    ("Megan O'Neill", "Copperleaf Outfitters", "America/Los_Angeles", "manager", "E-commerce Manager",
     "Active", "call video", "active"),
    ("Tom Fischer", "Alpenrück Versicherung", "Europe/Berlin", "director", "Director of Claims IT",
     "Active", "call written", "active"),
    ("Lucas Meyer", "St. Aldric Hospitals", "Europe/London", "manager", "Clinical Informatics Manager",
     "Active", "call video", "active"),
    ("Grace Adeyemi", "Westbrook University", "America/New_York", "director", "Director of Student Systems",
     "Active", "call video", "active"),
    ("Daniel Okoro", "Oasis Finance", "Asia/Dubai", "manager", "Risk Analytics Manager",
     "Active", "call video", "active"),
    ("Isabela Rocha", "Banco Sereno", "America/Sao_Paulo", "executive", "Chief Risk Officer",
     "Active", "video written", "active"),
    ("Oliver Hughes", "Rapid Rail Europe", "Europe/London", "practitioner", "Senior Data Engineer",
     "Active", "call video", "active"),
    ("Mei Lin Chua", "Skyreach Mobile", "Asia/Singapore", "manager", "Customer Insights Manager",
     "Active", "call video written", "active"),
    ("James Porter", "Keystone Data", "America/Los_Angeles", "practitioner", "Staff Platform Engineer",
     "Active", "call video", "active"),
    ("Ana Lucía Pérez", "Cargo Sur", "America/Mexico_City", "manager", "Operations Planning Manager",
     "Active", "call video", "active"),
    ("Henrik Larsen", "Norlink Telecom", "Europe/Berlin", "practitioner", "Network Analytics Lead",
     "Active", "call video", "active"),
    ("Chloé Martin", "Sunfield Renewables", "Europe/Paris", "manager", "Asset Performance Manager",
     "Active", "call video site_visit", "active"),
    ("Ethan Brooks", "Summit Mutual", "America/Chicago", "director", "Director of Underwriting Systems",
     "Active", "call", "active"),
    ("Zanele Dlamini", "Savanna Radio", "Africa/Johannesburg", "executive", "Managing Director",
     "Active", "call video", "active"),
    ("Noah Fraser", "Southern Cross Insurance", "Australia/Sydney", "director", "Head of Digital Claims",
     "Active", "call video", "active"),
    ("Priscila Mendes", "Nilo Saúde", "America/Sao_Paulo", "director", "Director of Patient Experience",
     "Active", "call video", "active"),
    ("Kevin Walsh", "Granite Works", "America/Chicago", "manager", "Plant Systems Manager",
     "Occasional", "call", "active"),
    ("Laura Schmidt", "Genovia Therapeutics", "Europe/Berlin", "practitioner", "Bioinformatics Scientist",
     "Occasional", "video written", "active"),
    ("Samuel Adler", "Calder Consulting", "America/New_York", "director", "Director of Delivery",
     "Occasional", "call video", "active"),
    ("Nina Kowalski", "Kestrel Payments", "Europe/London", "practitioner", "Fraud Analyst",
     "Occasional", "call video", "active"),
    ("Ben Carter", "Prairie Grid", "America/Chicago", "practitioner", "Grid Data Analyst",
     "Occasional", "call", "active"),
    ("Aiko Sato", "Arcadia Pharma", "Asia/Tokyo", "manager", "Regulatory Data Manager",
     "Occasional", "video written", "active"),
    ("Carlos Vega", "Andes Energía", "America/Bogota", "manager", "Maintenance Planning Manager",
     "Occasional", "call video", "active"),
    ("Emily Turner", "City of Riverton", "America/Los_Angeles", "manager", "Digital Services Manager",
     "Occasional", "call video", "active"),
    ("Ravi Shah", "Cobalt Systems", "America/Los_Angeles", "practitioner", "Analytics Engineer",
     "Occasional", "call video written", "active"),
    ("Fatima Haddad", "Atlas Fabrication", "Asia/Dubai", "director", "Director of Supply Chain",
     "Occasional", "call", "active"),
    ("Jack Morrison", "Pacific Freightways", "Australia/Sydney", "manager", "Fleet Operations Manager",
     "Occasional", "call video", "active"),
    ("Sophie Laurent", "Orbit Legal", "Europe/Paris", "practitioner", "Legal Operations Specialist",
     "Occasional", "written", "active"),
    ("Ryan Mitchell", "Evergreen Care Partners", "America/Chicago", "practitioner", "Clinical Data Analyst",
     "Occasional", "call video", "active"),
    ("Hannah Becker", "Hanseatic Institute of Technology", "Europe/Berlin", "manager", "IT Service Manager",
     "Occasional", "call video", "active"),
    ("Liam Chen", "Coral Coast Clinics", "Australia/Sydney", "practitioner", "Practice Systems Analyst",
     "Occasional", "video", "active"),
    ("Olivia Grant", "Harborview Bank", "America/New_York", "manager", "Treasury Reporting Manager",
     "Occasional", "call video", "active"),
    # Not (or no longer) active: the coordinator's pipeline.
    ("Marcus Reid", "Beacon Fiber", "America/New_York", "director", "Director of Network Planning",
     None, "call video", "candidate"),
    ("Elena Petrova", "Fernhill Software", "Europe/London", "manager", "Product Operations Manager",
     None, "call video", "candidate"),
    ("Diego Fernández", "Banco Sereno", "America/Sao_Paulo", "manager", "Digital Channels Manager",
     None, "call video", "invited"),
    ("Yuki Nakamura", "Kiwi Home", "Australia/Sydney", "practitioner", "Merchandising Analyst",
     None, "video", "invited"),
    ("Patrick Doyle", "FreshCart Markets", "America/Chicago", "director", "Director of Store Analytics",
     "Active", "call video", "paused"),
]

# Personal quarterly caps (each at most the tier's quota: Premier 6, Active 4, Occasional 2).
QUARTERLY_CAPS = {
    "Rachel Kim": 4,
    "Hiroshi Tanaka": 3,
    "Daniel Okoro": 2,
    "Henrik Larsen": 3,
    "Ethan Brooks": 2,
    "Kevin Walsh": 1,
    "Ben Carter": 1,
    "Sophie Laurent": 1,
}
# Snoozed until this many days from today.
SNOOZED = {"Nina Kowalski": 21, "Jack Morrison": 45}
# (advocate, first day, last day (days from today), reason).
BLACKOUTS = [
    ("Lukas Brandt", 9, 16, "Hannover trade fair"),
    ("Claire Dubois", 30, 44, "Summer holiday"),
    ("Grace Adeyemi", 20, 26, "Exam week"),
    ("Vikram Nair", 3, 5, "Plant audit"),
]
# Prospects an advocate will not speak with (their own competitors).
REFUSED_COMPANIES = {
    "Claire Dubois": ["Bluefin Retail"],
    "Isabela Rocha": ["Banco Austral"],
}

# Weekly windows in the advocate's own zone: (weekday 0=Mon, start, end).
WINDOW_PATTERNS = [
    [(0, "09:00", "12:00"), (2, "14:00", "17:00")],
    [(1, "09:00", "12:00"), (3, "13:00", "16:00")],
    [(0, "13:00", "15:00"), (3, "10:00", "12:00"), (4, "09:00", "11:00")],
    [(1, "15:00", "17:30")],
    [(2, "08:30", "10:30"), (4, "14:00", "16:00")],
    [(0, "10:00", "11:30"), (1, "10:00", "11:30"), (2, "10:00", "11:30")],
    [(3, "16:00", "18:00")],
    [(1, "11:00", "13:00"), (4, "10:00", "12:00")],
]
FEATURED_WINDOWS = 1  # Dana: Tuesday mornings and Thursday afternoons

LANGUAGES_BY_ZONE = {
    "America/New_York": ["English"],
    "America/Chicago": ["English", "Spanish"],
    "America/Los_Angeles": ["English"],
    "America/Sao_Paulo": ["Portuguese", "English", "Spanish"],
    "America/Mexico_City": ["Spanish", "English"],
    "America/Bogota": ["Spanish", "English"],
    "Europe/London": ["English"],
    "Europe/Berlin": ["German", "English"],
    "Europe/Paris": ["French", "English"],
    "Asia/Dubai": ["English", "Arabic"],
    "Africa/Johannesburg": ["English", "Zulu"],
    "Asia/Singapore": ["English", "Mandarin"],
    "Asia/Tokyo": ["Japanese", "English"],
    "Australia/Sydney": ["English"],
}

# The vendor's products (free tags).
PRODUCTS = ["Insight Cloud", "Data Pipelines", "Customer 360", "Workflow Automation", "Secure Gateway"]

# Use cases (free tags) by sector; the first one listed for a sector is the most common.
USE_CASES_BY_SECTOR = {
    "tech": ["Self-service analytics", "Product usage analytics", "Legacy data warehouse migration"],
    "health": ["Patient engagement", "Clinical data integration", "Regulatory reporting"],
    "finance": ["Fraud detection", "Regulatory reporting", "Customer onboarding"],
    "industrial": ["Predictive maintenance", "Supply chain visibility", "Field service scheduling"],
    "services": ["Omnichannel personalization", "Customer onboarding", "Self-service analytics"],
    "public": ["Citizen services portal", "Legacy data warehouse migration", "Self-service analytics"],
}

# Competitors of the vendor (free tags).
COMPETITORS = ["Acme Analytics", "Globex Data", "Initech Cloud", "Umbrella Systems", "Hooli Insights"]

SUCCESS_METRICS = [
    "Cut month-end reporting from 6 days to 2.",
    "Saved 1,200 analyst hours in the first year.",
    "Reduced unplanned downtime by 18%.",
    "Onboarding time for new customers down from 10 days to 3.",
    "Fraud losses down 27% within two quarters.",
    "Went live in 11 weeks, two weeks ahead of plan.",
    "Retired three legacy reporting tools and their licences.",
    "Adoption reached 85% of managers within 90 days.",
    "Payback in 7 months on the original business case.",
    "Regulatory submissions now take one day instead of a week.",
    "Net promoter score of our own customers up 12 points.",
    "On-time deliveries improved from 91% to 97%.",
    "Support tickets about reports down by half.",
    "One source of truth for 40 sites in 9 countries.",
]

TALKING_POINTS = [
    "How we built the business case and got finance on board.",
    "Running the migration alongside the old system without a freeze.",
    "What we would do differently in the first 30 days.",
    "Getting a security review through a strict CISO.",
    "Training 300 people without pulling them off the floor.",
    "Why we chose it over the incumbent, and what we gave up.",
    "Working with their support team during a bad week.",
    "Integrating with our ERP and CRM without a consultancy.",
    "Keeping executives engaged after the launch.",
    "Scaling from one region to global in a year.",
    "Negotiating the renewal: what to ask for.",
    "Measuring adoption honestly.",
]

# Perks: (name, description, minimum tier, points cost or None for a standing benefit).
PERKS = [
    # Standing perks beyond the tier benefits listed on each tier.
    ("Customer advisory board seat", "A seat on the board that shapes our roadmap.", "Premier", None),
    ("Speaker slot at the customer summit", "First choice of the summit's customer talks.", "Active", None),
    ("Reference community", "The private community where our references swap notes.", "Occasional", None),
    ("Branded hoodie", "A warm thank-you in your size.", "Occasional", 150),
    ("Charity donation ($250)", "We give $250 to a charity you choose, in your name.", "Occasional", 300),
    ("Training credits ($1,000)", "Credits for any course of our academy.", "Active", 600),
    ("Customer summit pass", "A full pass to the annual customer summit, travel included.", "Active", 800),
    ("Dinner with our CEO", "An evening with our CEO and a few peers from your industry.", "Premier", 1000),
]

# Perks offered in limited numbers: units on offer in all.
PERK_STOCK = {"Customer summit pass": 10, "Dinner with our CEO": 4}

# (advocate, perk, status): redemptions already made.
REDEMPTIONS = [
    ("Dana Whitfield", "Charity donation ($250)", "fulfilled"),
    ("Sofia Marques", "Branded hoodie", "requested"),
]

# Recognition recorded by a coordinator before the demo's requests: (reason, note). Each earns
# the points of POINTS_CASE_STUDY_OR_EVENT.
RECOGNITION = [
    ("case_study", "Published customer case study"),
    ("event", "Spoke at the customer summit"),
    ("case_study", "Video testimonial recorded"),
    ("event", "Joined a customer advisory board session"),
]
# How many recognition entries each tier's advocates have, at most.
RECOGNITION_BY_TIER = {"Premier": (4, 7), "Active": (1, 3), "Occasional": (0, 1)}

DECLINE_NOTE = "Quarter-end close this month, ask me again in a few weeks."
CANCEL_REASON = "The prospect put the evaluation on hold until the next budget cycle."

# Reference requests. Keys: status, sales (index among the sales accounts), the prospect, the
# opportunity, what the prospect cares about, and the asks (advocate, what became of it).
# ``age``: days since the request was submitted (for calls already held: days before the call).
# ``call_in``: days from today to look for the call's slot (negative: in the past).
REQUESTS = [
    dict(
        status="new", sales=0, age=0.2, needed_in=18,
        prospect="Helix Biotech", industry="Life Sciences", employees=640, region="Europe",
        contact=("Marie Laurent", "marie.laurent@helixbio.example"),
        opportunity=("OPP-24117", "Helix Biotech: Insight Cloud", "185000"),
        format="video", use_cases=["Regulatory reporting"], topics=["Compliance", "Security"],
        competitors=["Globex Data"], notes="Their QA director wants to hear from a regulated peer.",
        asks=[],
    ),
    dict(
        status="new", sales=2, age=1.1, needed_in=25,
        prospect="Oakridge County", industry="Public Sector", employees=2300, region="North America",
        contact=("Terrence Hall", "t.hall@oakridgecounty.example"),
        opportunity=("OPP-24121", "Oakridge County: citizen portal", "240000"),
        format="call", use_cases=["Citizen services portal"], topics=["Implementation", "Adoption"],
        competitors=[], notes="Procurement asks for one public-sector reference before the vote.",
        asks=[],
    ),
    dict(
        status="asking", sales=0, age=0.5, needed_in=12,
        prospect="Solstice Energy", industry="Energy", employees=3100, region="North America",
        contact=("Paul Nguyen", "paul.nguyen@solstice-energy.example"),
        opportunity=("OPP-24098", "Solstice Energy: predictive maintenance", "310000"),
        format="call", use_cases=["Predictive maintenance", "Supply chain visibility"],
        topics=["ROI", "Executive sponsorship"], competitors=["Initech Cloud"],
        notes="The COO signs; an operations executive would land best.",
        asks=[("Dana Whitfield", "pending")],
    ),
    dict(
        status="asking", sales=1, age=1.3, needed_in=9,
        prospect="Pinecrest Health System", industry="Healthcare", employees=8800,
        region="North America",
        contact=("Dr. Helen Park", "helen.park@pinecresthealth.example"),
        opportunity=("OPP-24102", "Pinecrest Health: patient engagement", "420000"),
        format="video", use_cases=["Patient engagement", "Clinical data integration"],
        topics=["Security", "Integration"], competitors=["Umbrella Systems"],
        notes="", asks=[("Amara Osei", "declined"), ("Ryan Mitchell", "pending")],
    ),
    dict(
        status="matched", sales=0, age=3, needed_in=10,
        prospect="Aurora Credit Union", industry="Financial Services", employees=1200,
        region="North America",
        contact=("Sam Ortiz", "sam.ortiz@auroracu.example"),
        opportunity=("OPP-24087", "Aurora CU: fraud detection", "150000"),
        format="call", use_cases=["Fraud detection"], topics=["Security", "Implementation"],
        competitors=["Acme Analytics"], notes="", asks=[("Rachel Kim", "accepted")],
    ),
    dict(
        status="matched", sales=1, age=4, needed_in=8,
        prospect="Meridian Insurance Group", industry="Insurance", employees=5200, region="Europe",
        contact=("Fiona Walsh", "fiona.walsh@meridian-ins.example"),
        opportunity=("OPP-24079", "Meridian Insurance: claims analytics", "275000"),
        format="written", use_cases=["Regulatory reporting"], topics=["Migration", "Support quality"],
        competitors=["Hooli Insights"], notes="Written answers for the steering committee pack.",
        questions=[
            "How long did the migration from your previous tool take, end to end?",
            "How has support handled your urgent issues?",
            "What would you tell an insurer starting the same project?",
        ],
        asks=[("Tom Fischer", "accepted")],
    ),
    dict(
        status="scheduled", sales=0, age=5, needed_in=14, call_in=4, minutes=30,
        prospect="Crescent Freight", industry="Transportation", employees=1800,
        region="North America",
        contact=("Luis Romero", "luis.romero@crescentfreight.example"),
        opportunity=("OPP-24066", "Crescent Freight: supply chain visibility", "195000"),
        format="call", use_cases=["Supply chain visibility"], topics=["Implementation", "ROI"],
        competitors=["Globex Data"], notes="", asks=[("Dana Whitfield", "accepted")],
    ),
    dict(
        status="scheduled", sales=2, age=6, needed_in=12, call_in=3, minutes=45,
        prospect="Vantage Telecom", industry="Telecommunications", employees=9800,
        region="Latin America",
        contact=("Beatriz Costa", "beatriz.costa@vantagetelecom.example"),
        opportunity=("OPP-24059", "Vantage Telecom: customer 360", "520000"),
        format="video", use_cases=["Product usage analytics"], topics=["Scalability", "Integration"],
        competitors=["Initech Cloud"], notes="Call in Portuguese if possible.",
        asks=[("Sofia Marques", "accepted")],
    ),
    dict(
        status="completed", sales=0, age=10, needed_in=-12, call_in=-21, minutes=30,
        outcome="won",
        prospect="Ironbridge Manufacturing", industry="Manufacturing", employees=4700,
        region="North America",
        contact=("Greg Summers", "greg.summers@ironbridge.example"),
        opportunity=("OPP-23998", "Ironbridge: plant analytics", "360000"),
        format="call", use_cases=["Predictive maintenance"], topics=["ROI", "Change management"],
        competitors=["Acme Analytics"], notes="",
        asks=[("Dana Whitfield", "accepted")],
        feedback={"prospect": (5, "Exactly the peer we needed: candid about the hard parts."),
                  "advocate": (5, "Well-prepared prospect, good questions.")},
    ),
    dict(
        status="completed", sales=1, age=9, needed_in=-30, call_in=-36, minutes=45,
        outcome="lost",
        prospect="Bluefin Retail", industry="Retail", employees=2600, region="North America",
        contact=("Nora James", "nora.james@bluefinretail.example"),
        opportunity=("OPP-23954", "Bluefin Retail: personalization", "210000"),
        format="video", use_cases=["Omnichannel personalization"], topics=["Pricing and contract"],
        competitors=["Hooli Insights"], notes="",
        asks=[("Megan O'Neill", "accepted")],
        feedback={"prospect": (3, "Useful, but their setup was smaller than ours."),
                  "advocate": (4, "They were mostly worried about pricing.")},
    ),
    dict(
        status="completed", sales=2, age=20, needed_in=-5, outcome="won",
        prospect="Quartz Media", industry="Media", employees=1400, region="Asia Pacific",
        contact=("Daniel Lee", "daniel.lee@quartzmedia.example"),
        opportunity=("OPP-23987", "Quartz Media: audience analytics", "165000"),
        format="written", use_cases=["Self-service analytics"], topics=["Adoption", "Implementation"],
        competitors=["Umbrella Systems"], notes="",
        questions=[
            "How quickly did editors start using the dashboards on their own?",
            "What did the rollout need from your IT team?",
        ],
        answers=[
            "Within a month most editors had their own dashboards; by three months it was habit.",
            "Two engineers for six weeks to connect our playout and web data, then very little.",
        ],
        asks=[("Hiroshi Tanaka", "accepted")],
        feedback={"prospect": (4, "Clear, concrete answers. Helped the board decide."),
                  "advocate": (4, "")},
    ),
    dict(
        status="cancelled", sales=1, age=12, needed_in=6, call_in=2, minutes=30,
        prospect="Lumen Public Schools", industry="Education", employees=3500, region="North America",
        contact=("Angela Brooks", "a.brooks@lumenschools.example"),
        opportunity=("OPP-24012", "Lumen Schools: student systems", "90000"),
        format="call", use_cases=["Legacy data warehouse migration"], topics=["Migration"],
        competitors=[], notes="", asks=[("Grace Adeyemi", "accepted")],
    ),
]

# Where prospects sit, for the time zone their booking page showed.
PROSPECT_ZONE_BY_REGION = {
    "North America": "America/New_York",
    "Latin America": "America/Sao_Paulo",
    "Europe": "Europe/London",
    "Middle East & Africa": "Africa/Johannesburg",
    "Asia Pacific": "Asia/Singapore",
}
