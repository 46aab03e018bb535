"""Which result files ``files=`` selects, and how a wrong ``files`` value is reported."""

from __future__ import annotations

import pytest

from airflow_provider_sixtyfour.protocol.errors import SixtyfourInputError
from airflow_provider_sixtyfour.protocol.models import DownloadLink
from airflow_provider_sixtyfour.transfers.selection import describe_selection, select_files, validate_selection


def _link(name: str, block: int | None) -> DownloadLink:
    return DownloadLink(filename=name, storage_bucket="b", block_number=block, download_url=f"https://s/{name}?sig=x")


LINKS = [
    _link("block_01_webhook.csv", 1),
    _link("block_02_enrich_lead.csv", 2),
    _link("block_03_find_email.csv", 3),
]


def _names(links: list[DownloadLink]) -> list[str]:
    return [link.filename for link in links]


def test_all_keeps_every_file_in_api_order() -> None:
    assert _names(select_files(LINKS, "all")) == _names(LINKS)


def test_final_is_the_highest_block_number_wherever_it_is_listed() -> None:
    shuffled = [LINKS[2], LINKS[0], LINKS[1]]
    assert _names(select_files(shuffled, "final")) == ["block_03_find_email.csv"]


def test_final_keeps_every_file_of_the_top_block() -> None:
    links = [*LINKS, _link("block_03_find_email_part2.csv", 3)]
    assert _names(select_files(links, "final")) == ["block_03_find_email.csv", "block_03_find_email_part2.csv"]


def test_final_without_block_numbers_takes_the_last_listed() -> None:
    links = [_link("a.csv", None), _link("b.csv", None)]
    assert _names(select_files(links, "final")) == ["b.csv"]


def test_glob_and_list_of_patterns() -> None:
    assert _names(select_files(LINKS, "*enrich*")) == ["block_02_enrich_lead.csv"]
    assert _names(select_files(LINKS, ["block_01_*", "block_03_find_email.csv"])) == [
        "block_01_webhook.csv",
        "block_03_find_email.csv",
    ]
    assert select_files(LINKS, "nothing-*.csv") == []


def test_callable_predicate() -> None:
    chosen = select_files(LINKS, lambda link: (link.block_number or 0) >= 2)
    assert _names(chosen) == ["block_02_enrich_lead.csv", "block_03_find_email.csv"]


@pytest.mark.parametrize("bad", ["", "  ", [], ["ok.csv", ""], [3], 42, None])
def test_bad_files_values_fail_with_usage(bad: object) -> None:
    with pytest.raises(SixtyfourInputError, match="pass 'all', 'final'"):
        validate_selection(bad)


def test_describe_selection() -> None:
    assert describe_selection("final") == "'final'"
    assert describe_selection(["a*", "b"]) == "['a*', 'b']"

    def only_csv(link: DownloadLink) -> bool:
        return link.filename.endswith(".csv")

    assert describe_selection(only_csv) == "the predicate only_csv"
