"""Small, fixed word lists for plausible values (ordered tuples: sampling stays seed-stable)."""

from __future__ import annotations

FIRST_NAMES = (
    "Alice", "Bruno", "Chloe", "Daniel", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas",
    "Keiko", "Liam", "Maya", "Noah", "Olivia", "Priya", "Rosa", "Samuel", "Tara", "Yusuf",
)  # fmt: skip
LAST_NAMES = (
    "Anderson", "Bianchi", "Chen", "Dubois", "Evans", "Fischer", "Garcia", "Haddad", "Ivanova",
    "Johnson", "Kim", "Lopez", "Martin", "Nakamura", "Okafor", "Patel", "Rossi", "Schmidt",
)  # fmt: skip
CITIES = (
    ("Paris", "France"), ("Berlin", "Germany"), ("Tokyo", "Japan"), ("Lisbon", "Portugal"),
    ("Toronto", "Canada"), ("Madrid", "Spain"), ("Seoul", "South Korea"), ("Nairobi", "Kenya"),
    ("Sydney", "Australia"), ("Austin", "United States"), ("Mumbai", "India"), ("Oslo", "Norway"),
)  # fmt: skip
REGIONS = ("Ile-de-France", "Bavaria", "Ontario", "California", "Catalonia", "Queensland")
STREETS = ("Main Street", "Rue de Rivoli", "Baker Street", "Elm Avenue", "Harbour Road", "Oak Lane")
COMPANIES = ("Acme Corp", "Globex", "Initech", "Northwind Traders", "Contoso", "Fabrikam", "Umbrella Labs")
PRODUCTS = ("Wireless Mouse", "Desk Lamp", "Coffee Grinder", "Running Shoes", "Water Bottle", "Notebook")
DOMAINS = ("example.com", "example.org", "example.net")
CATEGORIES = ("travel", "science", "finance", "sports", "music", "health", "technology", "food")
COLORS = ("red", "blue", "green", "yellow", "purple", "orange", "black", "white")
STATUSES = ("active", "pending", "completed", "cancelled")
ROLES = ("admin", "editor", "viewer", "owner")
JOBS = ("engineer", "designer", "teacher", "nurse", "accountant", "chef")
CURRENCIES = ("USD", "EUR", "GBP", "JPY")
LANGUAGES = ("English", "French", "Spanish", "German", "Japanese")
TIMEZONES = ("Europe/Paris", "America/New_York", "Asia/Tokyo", "UTC")
TICKERS = ("AAPL", "MSFT", "GOOG", "AMZN", "NVDA")
FILE_NAMES = ("report.pdf", "notes.txt", "data.csv", "photo.jpg", "summary.docx")

# Generic filler for strings without a recognisable name.
WORDS = (
    "alpha", "river", "quiet", "orange", "summit", "velvet", "harbor", "maple", "signal",
    "canyon", "ember", "meadow", "pixel", "lantern", "cobalt", "willow",
)  # fmt: skip
# Keys for extra properties of map-like objects (``additionalProperties: {...}``).
EXTRA_KEYS = ("alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta")

# Sentences are built as subject + verb + object: 150 combinations from 17 phrases.
SUBJECTS = ("The team", "Our customer", "The system", "A new user", "The report")
VERBS = ("reviewed", "updated", "requested", "confirmed", "shipped", "summarized")
OBJECTS = ("the latest results", "the order", "the weekly schedule", "the travel plans", "the pricing details")
TITLE_WORDS = (
    ("Quick", "Quarterly", "Practical", "Annual", "Modern", "Simple"),
    ("Guide", "Report", "Overview", "Update", "Plan", "Review"),
)
