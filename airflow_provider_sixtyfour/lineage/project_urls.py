"""Where this project lives, from the one place that says so: ``[project.urls]`` in ``pyproject.toml``.

The ``sixtyfour`` run facet's ``_schemaURL`` and every facet's ``_producer`` are built from the
``Repository`` URL declared there: read from the ``pyproject.toml`` beside the package in a source
checkout, else from the installed distribution's metadata (``Project-URL``, which the build copies
from ``pyproject.toml``). Imported only while the OpenLineage provider builds an event.
"""

from __future__ import annotations

from functools import cache
from importlib import metadata
from pathlib import Path
from urllib.parse import urlsplit

from airflow_provider_sixtyfour import __version__
from airflow_provider_sixtyfour.lineage import SCHEMA_PATH

#: The distribution, and the ``[project.urls]`` key naming its source repository.
DISTRIBUTION = "airflow-provider-sixtyfour"
REPOSITORY_KEY = "Repository"
#: The branch whose copy of the schema file the ``_schemaURL`` names (the file's ``$id`` says the same).
SCHEMA_REF = "main"
#: The definition inside the schema file that describes the facet.
SCHEMA_FRAGMENT = "#/$defs/SixtyfourRunFacet"

_CHECKOUT_PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


@cache
def project_urls() -> dict[str, str]:
    """``[project.urls]``: of the source checkout this package runs from, else of the installed distribution."""
    urls = _checkout_urls()
    if urls is not None:
        return urls
    try:
        entries = metadata.metadata(DISTRIBUTION).get_all("Project-URL") or []
    except metadata.PackageNotFoundError:
        entries = []
    return dict(tuple(part.strip() for part in entry.split(",", 1)) for entry in entries if "," in entry)


def repository_url() -> str:
    """The ``Repository`` URL of ``[project.urls]``, without a trailing slash."""
    url = project_urls().get(REPOSITORY_KEY)
    if not url:
        raise LookupError(f"{DISTRIBUTION} declares no {REPOSITORY_KEY!r} in [project.urls] (is it installed?)")
    return url.rstrip("/").removesuffix(".git")


def raw_file_url(path: str, ref: str = SCHEMA_REF) -> str:
    """The URL serving the bytes of ``path`` at ``ref`` of the repository (GitHub's raw host for GitHub)."""
    repository = repository_url()
    parts = urlsplit(repository)
    if parts.netloc == "github.com":
        return f"https://raw.githubusercontent.com{parts.path}/{ref}/{path}"
    return f"{repository}/raw/{ref}/{path}"


def schema_url() -> str:
    """The ``_schemaURL`` of the ``sixtyfour`` run facet: its definition in the published schema file."""
    return raw_file_url(SCHEMA_PATH) + SCHEMA_FRAGMENT


def producer() -> str:
    """The ``_producer`` of the facets this provider builds: the repository at this version."""
    return f"{repository_url()}/tree/{__version__}"


def _checkout_urls() -> dict[str, str] | None:
    """``[project.urls]`` of the ``pyproject.toml`` two levels up, when that is this project's (a checkout)."""
    try:
        import tomllib
    except ImportError:  # Python 3.10: the installed metadata says the same
        return None
    try:
        project = tomllib.loads(_CHECKOUT_PYPROJECT.read_text()).get("project", {})
    except (OSError, ValueError):
        return None
    if project.get("name") != DISTRIBUTION:
        return None
    return {str(k): str(v) for k, v in project.get("urls", {}).items()}
