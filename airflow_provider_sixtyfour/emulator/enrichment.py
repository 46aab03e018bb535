"""What each block adds to a row: deterministic, plausible enrichment columns.

Values depend only on (job id, block sequence, row index) and the input row, so a run's files are
the same every time they are served, and a later block's file extends the earlier one's columns.
Some texts hold commas, double quotes and newlines, so clients must parse CSV properly.
"""

from __future__ import annotations

from collections.abc import Sequence

from airflow_provider_sixtyfour.emulator.inputs import digest
from airflow_provider_sixtyfour.emulator.specs import SOURCE_BLOCKS

NOTES_COLUMN = "sixtyfour_notes"

_TITLES = ("VP Engineering", "Head of Data", "CTO", "Staff Engineer", "Director, Growth", "Founder & CEO")
_INDUSTRIES = ("Software", "Logistics", "Fintech", "Healthcare", "Retail", "Manufacturing")
_STEPS = ("verified via company website", "matched on LinkedIn profile", "confirmed by two sources")

_COLUMNS: dict[str, tuple[str, ...]] = {
    "enrich_lead": ("title", "linkedin_url", "lead_summary"),
    "enrich_company": ("industry", "employee_count", "company_summary"),
    "find_email": ("email", "email_status"),
    "find_phone": ("phone",),
}


def block_columns(block_name: str) -> tuple[str, ...]:
    """The columns ``block_name`` adds (source blocks add none)."""
    if block_name in SOURCE_BLOCKS:
        return ()
    return _COLUMNS.get(block_name, (f"{block_name}_result",))


def _lookup(columns: Sequence[str], row: Sequence[str], *names: str) -> str:
    lowered = [c.lower() for c in columns]
    for name in names:
        if name in lowered:
            value = row[lowered.index(name)].strip()
            if value:
                return value
    return ""


def _slug(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum()) or "lead"


def _summary(kind: str, h: int, who: str, company: str) -> str:
    variant = h % 3
    if variant == 0:
        # Quotes, a comma and a newline in one cell: the case naive CSV readers break on.
        return f'{who} at {company}, known internally as "the {kind} person".\nPreviously led a team of {h % 40 + 3}.'
    if variant == 1:
        return f"{who} works on {kind} at {company}, focusing on growth, data and tooling"
    return f"{who} at {company}"


def block_values(
    block_name: str, job_id: str, sequence: int, index: int, columns: Sequence[str], row: Sequence[str]
) -> list[str]:
    """The values ``block_name`` (at ``sequence``) adds to input row ``index``."""
    if block_name in SOURCE_BLOCKS:
        return []
    h = digest(job_id, sequence, index)
    first = _lookup(columns, row, "first_name", "firstname", "name", "full_name") or f"Lead{index}"
    last = _lookup(columns, row, "last_name", "lastname", "surname")
    who = f"{first} {last}".strip()
    company = _lookup(columns, row, "company", "company_name", "organization") or "Example Corp"
    domain = _lookup(columns, row, "domain", "website", "company_domain") or f"{_slug(company)}.example"
    domain = domain.removeprefix("https://").removeprefix("http://").removeprefix("www.").split("/")[0]
    if block_name == "enrich_lead":
        return [
            _TITLES[h % len(_TITLES)],
            f"https://www.linkedin.com/in/{_slug(who)}-{h % 100000:05d}",
            _summary("lead", h >> 4, who, company),
        ]
    if block_name == "enrich_company":
        return [
            _INDUSTRIES[h % len(_INDUSTRIES)],
            str(10 + h % 5000),
            _summary("company", h >> 4, company, domain),
        ]
    if block_name == "find_email":
        local = ".".join(part for part in (_slug(first), _slug(last) if last else "") if part)
        return [f"{local}@{domain}", ("valid", "valid", "risky", "not_found")[h % 4]]
    if block_name == "find_phone":
        return [f"+1-555-{h % 1000:03d}-{(h >> 10) % 10000:04d}"]
    return [f"{block_name} result {h % 1000}"]


def notes_value(block_name: str, job_id: str, sequence: int, index: int) -> str:
    """The trailing notes cell of a row in block ``sequence``'s file."""
    h = digest(job_id, sequence, index, "notes")
    if block_name in SOURCE_BLOCKS:
        return f"received by {block_name}"
    return f"{block_name}: {_STEPS[h % len(_STEPS)]} (confidence 0.{50 + h % 50})"
