"""Target names, decided before any download: unique, short enough, never another file's."""

from __future__ import annotations

import pytest

from airflow_provider_sixtyfour.protocol.models import DownloadLink
from airflow_provider_sixtyfour.transfers import SixtyfourResultNameError
from airflow_provider_sixtyfour.transfers.naming import PARTIAL_MARKER, partial_name, target_names


def _links(*files: tuple[str, int | None]) -> list[DownloadLink]:
    return [DownloadLink(filename=name, storage_bucket="b", block_number=block) for name, block in files]


def test_names_are_the_filenames_without_folders() -> None:
    assert target_names(_links(("a.csv", 1), ("dir/b.csv", 2), ("c:\\win\\c.csv", 3))) == ["a.csv", "b.csv", "c.csv"]


def test_only_colliding_names_get_their_block_in_front() -> None:
    links = _links(("results.csv", 2), ("summary.csv", 2), ("x/results.csv", 1), ("results.csv", 10))
    assert target_names(links) == [
        "block_02_results.csv",
        "summary.csv",
        "block_01_results.csv",
        "block_10_results.csv",
    ]


def test_a_renamed_file_must_still_fit() -> None:
    name = "a" * 250 + ".csv"  # 254 bytes: fits alone, not with a block in front
    assert target_names(_links((name, 1))) == [name]
    with pytest.raises(SixtyfourResultNameError, match="its name is 263 bytes long"):
        target_names(_links((name, 1), (name, 2)))


def test_object_stores_take_longer_names() -> None:
    name = "a" * 600 + ".csv"
    assert target_names(_links((name, 1)), max_name_bytes=1000) == [name]


@pytest.mark.parametrize("name", ["", ".", "..", "dir/", "\udcff.csv"])
def test_names_that_cannot_be_files(name: str) -> None:
    with pytest.raises(SixtyfourResultNameError, match="cannot be landed"):
        target_names(_links((name, 1)))


def test_the_temporary_name_is_short_and_fixed() -> None:
    names = {partial_name() for _ in range(100)}
    assert len(names) == 100
    assert {len(n) for n in names} == {len(PARTIAL_MARKER) + 16}
    assert all(n.startswith(PARTIAL_MARKER) for n in names)
