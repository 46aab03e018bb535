"""Which of a run's result files to land: ``"all"``, ``"final"``, glob patterns, or a predicate.

The ``files`` argument of :func:`~airflow_provider_sixtyfour.transfers.land_results` and of the
download operator is templatable, so its useful forms are strings and lists of strings:

- ``"all"`` (default): every result file of the run.
- ``"final"``: the workflow's final output, the file(s) with the highest ``block_number``.
- any other string, or a list of strings: filenames or shell-style glob patterns
  (``"*.csv"``, ``["enriched_*.csv", "summary.csv"]``); a file is landed when any pattern matches.
- a callable ``(DownloadLink) -> bool`` (not templatable), for anything else.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Sequence

from airflow_provider_sixtyfour.protocol.errors import SixtyfourInputError
from airflow_provider_sixtyfour.protocol.models import DownloadLink

FileSelection = str | Sequence[str] | Callable[[DownloadLink], bool]
"""The accepted forms of ``files``: ``"all"``, ``"final"``, pattern(s) or a predicate."""

ALL = "all"
FINAL = "final"


def validate_selection(files: object) -> FileSelection:
    """Check the form of ``files`` before any request; raise :class:`SixtyfourInputError` if wrong."""
    if callable(files):
        return files
    if isinstance(files, str):
        if not files.strip():
            raise SixtyfourInputError(_usage("files is an empty string"))
        return files.strip()
    if isinstance(files, (list, tuple)):
        if not files:
            raise SixtyfourInputError(_usage("files is an empty list"))
        bad = [item for item in files if not isinstance(item, str) or not item.strip()]
        if bad:
            raise SixtyfourInputError(_usage(f"files holds entries that are not non-empty strings: {bad!r}"))
        return [item.strip() for item in files]
    raise SixtyfourInputError(_usage(f"files is a {type(files).__name__}"))


def _usage(problem: str) -> str:
    return (
        f"{problem}: pass 'all', 'final', a filename or glob pattern, a list of them, "
        "or a callable taking a DownloadLink and returning a bool"
    )


def describe_selection(files: FileSelection) -> str:
    """A short text for messages and logs."""
    if callable(files) and not isinstance(files, str):
        return f"the predicate {getattr(files, '__name__', repr(files))}"
    if isinstance(files, str):
        return repr(files)
    return repr(list(files))


def select_files(links: Sequence[DownloadLink], files: FileSelection) -> list[DownloadLink]:
    """The links ``files`` selects, in the API's order (ties in ``final`` keep every top-block file)."""
    if isinstance(files, str) and files == ALL:
        return list(links)
    if isinstance(files, str) and files == FINAL:
        numbered = [link.block_number for link in links if link.block_number is not None]
        if not numbered:
            # Without block numbers the API's order is all there is: its last file is the final output.
            return list(links[-1:])
        top = max(numbered)
        return [link for link in links if link.block_number == top]
    if callable(files) and not isinstance(files, str):
        return [link for link in links if files(link)]
    patterns = [files] if isinstance(files, str) else list(files)
    return [link for link in links if any(fnmatch.fnmatchcase(link.filename, p) for p in patterns)]
