"""``DownloadOptions.validate``: every value that cannot work is refused before any request, NaN and inf too."""

from __future__ import annotations

import math

import pytest

from airflow_provider_sixtyfour.protocol.errors import SixtyfourError, SixtyfourInputError, is_final
from airflow_provider_sixtyfour.transfers import DownloadOptions

NAN = math.nan
INF = math.inf


def test_the_defaults_are_valid_and_set_a_throughput_floor() -> None:
    options = DownloadOptions().validate()
    assert (options.min_throughput, options.throughput_window) == (64 * 1024, 30.0)
    assert DownloadOptions(min_throughput=0, retry_wait=0).validate().min_throughput == 0


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"read_timeout": NAN},
            "read_timeout must be a finite number of seconds > 0 and at most 86400 (a day), got nan",
        ),
        ({"connect_timeout": INF}, "connect_timeout must be a finite number of seconds > 0 and at most 86400"),
        ({"connect_timeout": 0}, "connect_timeout must be a finite number of seconds > 0"),
        ({"read_timeout": 1e12}, "read_timeout must be a finite number of seconds > 0 and at most 86400 (a day), got"),
        ({"retry_wait": NAN}, "retry_wait must be a finite number of seconds >= 0 and at most 86400 (a day), got nan"),
        ({"retry_wait": -1.0}, "retry_wait must be a finite number of seconds >= 0"),
        ({"throughput_window": INF}, "throughput_window must be a finite number of seconds > 0"),
        ({"throughput_window": "30"}, "throughput_window must be a finite number of seconds > 0"),
        (
            {"min_throughput": NAN},
            "min_throughput must be a finite number of bytes a second >= 0 (0 turns the floor off)",
        ),
        ({"min_throughput": -INF}, "min_throughput must be a finite number of bytes a second >= 0"),
        ({"min_throughput": True}, "min_throughput must be a finite number of bytes a second >= 0"),
        ({"chunk_size": NAN}, "chunk_size must be at least 65536 bytes (64 KiB) and at most 64 MiB, got nan"),
        ({"chunk_size": 1 << 40}, "chunk_size must be at least 65536 bytes (64 KiB) and at most 64 MiB"),
        ({"part_size": 8.0 * 1024 * 1024}, "part_size must be at least 5 MiB (S3's minimum part) and at most 5 GiB"),
        ({"max_concurrency": 0}, "max_concurrency must be a whole number >= 1 and <= 256, got 0"),
        ({"max_attempts": True}, "max_attempts must be a whole number >= 1 and <= 100, got True"),
        ({"max_attempts": INF}, "max_attempts must be a whole number >= 1 and <= 100, got inf"),
        ({"sha256": "yes"}, "sha256 must be True or False, got 'yes'"),
        ({"max_expansion": NAN}, "max_expansion must be a finite number >= 1 and <= 1000000 (decoded bytes per"),
        ({"max_expansion": 0.5}, "max_expansion must be a finite number >= 1 and <= 1000000"),
        ({"max_expansion": INF}, "max_expansion must be a finite number >= 1 and <= 1000000"),
    ],
)
def test_values_that_cannot_work_are_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(SixtyfourInputError) as caught:
        DownloadOptions(**changes).validate()  # type: ignore[arg-type]
    assert str(caught.value).startswith(message)
    # The provider's own error, final: a task fails at once instead of retrying the same input.
    assert isinstance(caught.value, SixtyfourError)
    assert is_final(caught.value)


def test_every_name_the_package_exports_is_the_one_its_module_defines() -> None:
    # transfers/__init__.py imports its names when first used (DAG parsing stays cheap): each must resolve.
    import importlib

    import airflow_provider_sixtyfour.transfers as transfers

    for name in transfers.__all__:
        home = importlib.import_module(f"airflow_provider_sixtyfour.transfers.{transfers._HOMES[name]}")
        assert getattr(transfers, name) is getattr(home, name), name
    assert sorted(transfers._HOMES) == sorted(transfers.__all__)
    with pytest.raises(AttributeError, match="has no attribute 'nothing_here'"):
        transfers.nothing_here  # noqa: B018
