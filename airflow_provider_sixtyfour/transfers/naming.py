"""The name each selected result file lands under, decided before any download.

A file lands under the API's filename without any folder part. Two selected files of different
blocks with the same filename (a workflow may name two blocks' outputs alike) would overwrite each
other, so each of them lands with its block number in front instead (``block_02_results.csv``). What
cannot be told apart or cannot be a file name fails the landing before anything is fetched: never
the wrong bytes under a name.
"""

from __future__ import annotations

import posixpath
import uuid
from collections import Counter
from collections.abc import Sequence

from airflow_provider_sixtyfour.protocol.models import DownloadLink
from airflow_provider_sixtyfour.protocol.validate import PARTIAL_MARKER, file_name_problem
from airflow_provider_sixtyfour.transfers.errors import SixtyfourResultNameError


def partial_name() -> str:
    """A temporary sibling's name: short and of fixed length, so a target name up to the limit still lands."""
    return f"{PARTIAL_MARKER}{uuid.uuid4().hex[:16]}"


def block_prefixed(name: str, block_number: int) -> str:
    """``name`` with its block in front, for files whose names collide: ``block_02_results.csv``."""
    return f"block_{block_number:02d}_{name}"


def target_names(links: Sequence[DownloadLink], max_name_bytes: int = 255) -> list[str]:
    """The name each of ``links`` lands under, in order, unique; raises :class:`SixtyfourResultNameError`.

    :param max_name_bytes: the longest name (UTF-8 bytes) the destination takes.
    """
    keys = Counter((link.block_number, link.filename) for link in links)
    for (block, filename), count in keys.items():
        if count > 1:
            where = "without a block number" if block is None else f"for block {block}"
            raise SixtyfourResultNameError(
                filename, f"the API lists it {count} times {where}, so which bytes are which is unknown"
            )
    bases = [_base_name(link) for link in links]
    counts = Counter(bases)
    names: list[str] = []
    for link, base in zip(links, bases, strict=True):
        name = base
        if counts[base] > 1:
            if link.block_number is None:
                raise SixtyfourResultNameError(
                    link.filename,
                    f"{counts[base]} selected result files would land as {base!r} and the API gave no block number to "
                    "tell them apart: select one of them with files=",
                )
            name = block_prefixed(base, link.block_number)
        names.append(name)
    taken = Counter(names)
    for link, name in zip(links, names, strict=True):
        if taken[name] > 1:
            raise SixtyfourResultNameError(
                link.filename,
                f"two selected result files would land under the same name {name!r}: select one with files=",
            )
        size = len(name.encode("utf-8"))
        if size > max_name_bytes:
            raise SixtyfourResultNameError(
                link.filename,
                f"its name is {size} bytes long, and the destination takes names of {max_name_bytes} at most",
            )
    return names


def _base_name(link: DownloadLink) -> str:
    name = posixpath.basename(link.filename.replace("\\", "/"))
    problem = file_name_problem(name)
    if problem is not None:
        raise SixtyfourResultNameError(link.filename, problem)
    return name
