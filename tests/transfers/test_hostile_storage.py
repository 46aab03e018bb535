"""``land_results`` against a hostile or broken storage of the test's own, and links no real API should give.

Each test starts a :class:`~transfers.hostile.HostileServer` on 127.0.0.1 that answers the two API calls
landing makes and serves the files as the test says: a redirect to another host with ``~/.netrc``
entries for it, an environment proxy, a body dripping a byte at a time, a gzip bomb, two files of one
name, names no file can have. The provider must land the right bytes or fail clearly, leaving nothing.
"""

from __future__ import annotations

import base64
import gzip
import secrets
import time
from pathlib import Path
from typing import Any

import pytest
from helpers.landing import MiB
from secret_audit import register_secret

from airflow_provider_sixtyfour.transfers import (
    DownloadOptions,
    SixtyfourDownloadError,
    SixtyfourResultNameError,
    land_results,
)

from .hostile import Exchange, HostileServer, body, link

pytestmark = pytest.mark.usefixtures("audit_provider_logs")

DATA = b"name,email\n" + b"".join(b"Ada %d,ada%d@example.com\n" % (i, i) for i in range(3000))
QUICK = DownloadOptions(retry_wait=0.01, max_attempts=2)


def _entries(folder: Path) -> list[str]:
    """Everything under ``folder`` (hidden temporary files included); [] when it does not exist."""
    return sorted(p.name for p in folder.rglob("*")) if folder.exists() else []


def _redirect(to: str, status: int = 302) -> Any:
    return lambda exchange: exchange.send(status, b"", {"Location": to})


# --------------------------------------------------------------------------------------------------
# Item 4: no credentials from the environment
# --------------------------------------------------------------------------------------------------


def test_a_storage_redirect_picks_up_no_netrc_credentials(
    hostile: HostileServer, hostile_hook: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    password = f"netrc-password-{secrets.token_hex(8)}"
    register_secret(password, "a ~/.netrc password")
    register_secret(base64.b64encode(f"netrc-user:{password}".encode()).decode(), "~/.netrc Basic credentials")
    home = tmp_path / "home"
    home.mkdir()
    netrc = home / ".netrc"
    netrc.write_text(
        f"machine localhost login netrc-user password {password}\n"
        f"machine 127.0.0.1 login netrc-user password {password}\n"
    )
    netrc.chmod(0o600)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("NETRC", raising=False)
    # The storage sends the download on to another host, for which ~/.netrc has an entry.
    moved = hostile.file("moved/data.csv", body(DATA), host="localhost")
    first = hostile.file("data.csv", _redirect(moved, 307))
    job_id = hostile.serve_run([link("data.csv", first, size=len(DATA))])

    [landed] = land_results(hostile_hook, job_id, tmp_path / "out", options=QUICK)

    assert (tmp_path / "out" / "data.csv").read_bytes() == DATA
    assert landed.bytes == len(DATA)
    for path in ("/files/data.csv", "/files/moved/data.csv"):
        [headers] = hostile.headers_of(path)
        assert "authorization" not in headers, path
        assert "x-api-key" not in headers, path


def test_an_environment_proxy_still_carries_downloads_with_its_own_credentials(
    hostile: HostileServer, hostile_hook: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers behind a proxy reach their storage: the proxy setting is kept, its user:password goes to it only."""
    proxy = HostileServer()
    try:
        proxy_password = f"proxy-password-{secrets.token_hex(8)}"
        register_secret(proxy_password, "the proxy's password")
        # The proxy answers for a storage host this test cannot reach directly.
        proxy.routes["/files/data.csv"] = body(DATA)
        url = f"http://storage.invalid:9/files/data.csv?expires=1900000000&signature={secrets.token_hex(20)}"
        job_id = hostile.serve_run([link("data.csv", url, size=len(DATA))])
        proxy_url = f"http://proxy-user:{proxy_password}@127.0.0.1:{proxy.port}"
        for name in ("HTTP_PROXY", "http_proxy"):
            monkeypatch.setenv(name, proxy_url)
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.setenv(name, "127.0.0.1,localhost")  # the stand-in API is reached directly

        land_results(hostile_hook, job_id, tmp_path / "out", options=QUICK)

        assert (tmp_path / "out" / "data.csv").read_bytes() == DATA
        [seen] = [s for s in proxy.seen if s.path == "/files/data.csv"]
        assert seen.request_line.startswith("GET http://storage.invalid:9/files/data.csv?")
        expected = base64.b64encode(f"proxy-user:{proxy_password}".encode()).decode()
        assert seen.headers["proxy-authorization"] == f"Basic {expected}"
        assert "authorization" not in seen.headers
    finally:
        proxy.stop()


# --------------------------------------------------------------------------------------------------
# Item 12 (downloads): redirects that cannot be followed fail as the provider's own errors
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("self", r"redirected more than 5 times \(last to host 127\.0\.0\.1:\d+\): a redirect loop\?"),
        ("file:///etc/passwd", r"redirected to a file: URL \(HTTP 302\); only http\(s\) is followed"),
        ("", r"answered HTTP 302 \(a redirect\) without a Location header"),
    ],
    ids=["loop", "file-scheme", "no-location"],
)
def test_a_redirect_that_cannot_be_followed_fails_at_once(
    hostile: HostileServer, hostile_hook: Any, tmp_path: Path, target: str, message: str
) -> None:
    url = hostile.file("data.csv", lambda ex: None)
    location = url if target == "self" else target
    hostile.routes["/files/data.csv"] = (
        _redirect(location) if location else (lambda ex: ex.send(302, b"", {"Content-Length": "0"}))
    )
    job_id = hostile.serve_run([link("data.csv", url, size=len(DATA))])
    with pytest.raises(SixtyfourDownloadError, match=message) as caught:
        land_results(hostile_hook, job_id, tmp_path / "out", options=QUICK)
    assert caught.value.attempts == 1  # not retried: a retry gets the same answer
    assert "signature=" not in str(caught.value)
    assert _entries(tmp_path / "out") == []


# --------------------------------------------------------------------------------------------------
# Item 5: a body below the throughput floor fails the try, which is retried
# --------------------------------------------------------------------------------------------------

SLOW_FLOOR = DownloadOptions(retry_wait=0.01, max_attempts=2, min_throughput=1000, throughput_window=0.5)


def _drip(exchange: Exchange) -> None:
    """Announce the whole body, then send it a byte every 50 ms (20 bytes a second) until the client leaves."""
    exchange.start(200, {"Content-Length": str(len(DATA))})
    for i in range(len(DATA)):
        if exchange.server.stopping.is_set() or not exchange.write(DATA[i : i + 1]):
            return
        time.sleep(0.05)


def test_a_dripping_storage_fails_the_try_and_the_retry_lands(
    hostile: HostileServer, hostile_hook: Any, tmp_path: Path
) -> None:
    url = hostile.file("data.csv", lambda ex: _drip(ex) if ex.count == 1 else ex.send(200, DATA))
    job_id = hostile.serve_run([link("data.csv", url, size=len(DATA))])
    [landed] = land_results(hostile_hook, job_id, tmp_path / "out", options=SLOW_FLOOR)
    assert landed.attempts == 2
    assert (tmp_path / "out" / "data.csv").read_bytes() == DATA
    assert _entries(tmp_path / "out") == ["data.csv"]


def test_a_storage_that_always_drips_fails_naming_the_floor(
    hostile: HostileServer, hostile_hook: Any, tmp_path: Path
) -> None:
    url = hostile.file("data.csv", _drip)
    job_id = hostile.serve_run([link("data.csv", url, size=len(DATA))])
    with pytest.raises(SixtyfourDownloadError) as caught:
        land_results(hostile_hook, job_id, tmp_path / "out", options=SLOW_FLOOR)
    text = str(caught.value)
    assert "could not be downloaded (2 attempts): too slow:" in text
    assert "below the floor of 1000 bytes/s over 0.5 s (DownloadOptions min_throughput and throughput_window)" in text
    assert hostile.count("/files/data.csv") == 2
    assert _entries(tmp_path / "out") == []


# --------------------------------------------------------------------------------------------------
# Item 6: two result files with one name, in different blocks
# --------------------------------------------------------------------------------------------------

BLOCK_1 = b"block,one\n1,first block's bytes\n"
BLOCK_2 = b"block,two\n2,the final block's bytes, longer\n"


@pytest.fixture
def same_name_run(hostile: HostileServer) -> str:
    """A run whose blocks 1 and 2 both wrote ``results.csv`` (listed block 2 first), and a summary."""
    return hostile.serve_run(
        [
            link("results.csv", hostile.file("b2/results.csv", body(BLOCK_2)), block=2, size=len(BLOCK_2)),
            link("summary.csv", hostile.file("b2/summary.csv", body(b"s\n")), block=2, size=2),
            link("results.csv", hostile.file("b1/results.csv", body(BLOCK_1)), block=1, size=len(BLOCK_1)),
        ]
    )


def test_final_lands_the_final_blocks_bytes_under_its_name(
    hostile: HostileServer, hostile_hook: Any, same_name_run: str, tmp_path: Path
) -> None:
    landed = land_results(hostile_hook, same_name_run, tmp_path, files="final", options=QUICK)
    assert [(f.filename, f.block_number, f.uri) for f in landed] == [
        ("results.csv", 2, f"file://{tmp_path}/results.csv"),
        ("summary.csv", 2, f"file://{tmp_path}/summary.csv"),
    ]
    assert (tmp_path / "results.csv").read_bytes() == BLOCK_2
    assert hostile.count("/files/b1/results.csv") == 0


def test_all_lands_each_block_under_its_own_name(
    hostile: HostileServer, hostile_hook: Any, same_name_run: str, tmp_path: Path
) -> None:
    landed = land_results(hostile_hook, same_name_run, tmp_path, files="all", options=QUICK)
    by_uri = {f.uri.rsplit("/", 1)[1]: f for f in landed}
    assert sorted(by_uri) == ["block_01_results.csv", "block_02_results.csv", "summary.csv"]
    assert _entries(tmp_path) == ["block_01_results.csv", "block_02_results.csv", "summary.csv"]
    assert (tmp_path / "block_01_results.csv").read_bytes() == BLOCK_1
    assert (tmp_path / "block_02_results.csv").read_bytes() == BLOCK_2
    assert (by_uri["block_01_results.csv"].filename, by_uri["block_01_results.csv"].block_number) == ("results.csv", 1)
    assert by_uri["block_02_results.csv"].bytes == len(BLOCK_2)


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (
            [("results.csv", 3), ("results.csv", 3)],
            r"'results\.csv' cannot be landed: the API lists it 2 times for block 3, so which bytes are which",
        ),
        ([("results.csv", None), ("results.csv", None)], r"the API lists it 2 times without a block number"),
        (
            [("a/results.csv", None), ("b/results.csv", None)],
            r"2 selected result files would land as 'results\.csv' and the API gave no block number",
        ),
        (
            [("results.csv", 1), ("results.csv", 2), ("block_01_results.csv", 3)],
            r"two selected result files would land under the same name 'block_01_results\.csv'",
        ),
    ],
    ids=["same-block", "no-block-numbers", "same-basename-no-blocks", "renamed-onto-another"],
)
def test_files_that_cannot_be_told_apart_fail_before_any_download(
    hostile: HostileServer, hostile_hook: Any, tmp_path: Path, files: list[tuple[str, int | None]], message: str
) -> None:
    job_id = hostile.serve_run(
        [link(name, hostile.file(f"{i}/{name}", body(BLOCK_1)), block=block) for i, (name, block) in enumerate(files)]
    )
    with pytest.raises(SixtyfourResultNameError, match=message):
        land_results(hostile_hook, job_id, tmp_path / "out", options=QUICK)
    assert not [s for s in hostile.seen if s.path.startswith("/files/")]
    assert _entries(tmp_path / "out") == []


# --------------------------------------------------------------------------------------------------
# Item 7: a Content-Encoding does not bypass the size checks
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    """About 65 KB of gzip that expands to 64 MiB."""
    return gzip.compress(b"\0" * (64 * MiB), compresslevel=9)


def test_a_gzip_bomb_stops_at_file_size_and_leaves_nothing(
    hostile: HostileServer, hostile_hook: Any, tmp_path: Path, gzip_bomb: bytes
) -> None:
    assert len(gzip_bomb) < 70_000
    url = hostile.file("data.csv", body(gzip_bomb, {"Content-Encoding": "gzip"}))
    job_id = hostile.serve_run([link("data.csv", url, size=10)])
    with pytest.raises(SixtyfourDownloadError) as caught:
        land_results(hostile_hook, job_id, tmp_path / "out", options=QUICK)
    assert str(caught.value) == (
        "result file 'data.csv' could not be downloaded (2 attempts): too long: the body grew past the API's "
        "file_size of 10 bytes once its gzip encoding was undone; stopped reading before writing byte 11"
    )
    assert _entries(tmp_path / "out") == []


def test_a_gzip_bomb_without_file_size_stops_at_the_expansion_cap_and_leaves_nothing(
    hostile: HostileServer, hostile_hook: Any, tmp_path: Path, gzip_bomb: bytes
) -> None:
    url = hostile.file("data.csv", body(gzip_bomb, {"Content-Encoding": "gzip"}))
    job_id = hostile.serve_run([link("data.csv", url)])  # no file_size: only the ratio bounds it
    with pytest.raises(SixtyfourDownloadError) as caught:
        land_results(hostile_hook, job_id, tmp_path / "out", options=QUICK)
    text = str(caught.value)
    # Final: the same storage would send the same bomb again, so one try only.
    assert text.startswith("result file 'data.csv' could not be downloaded (1 attempt): too long: ")
    assert "of gzip would decode to" in text
    assert "more than 200 times their size" in text
    assert "Raise DownloadOptions.max_expansion if the file is real" in text
    # Stopped a chunk past the 16 MiB allowance, far short of the 64 MiB the bomb expands to.
    written = int(text.split("would decode to ")[1].split(" ")[0])
    assert 16 * MiB < written <= 16 * MiB + QUICK.chunk_size
    assert _entries(tmp_path / "out") == []


def test_a_raised_expansion_cap_lands_the_highly_compressed_file(
    hostile: HostileServer, hostile_hook: Any, tmp_path: Path, gzip_bomb: bytes
) -> None:
    url = hostile.file("zeros.csv", body(gzip_bomb, {"Content-Encoding": "gzip"}))
    job_id = hostile.serve_run([link("zeros.csv", url)])
    options = DownloadOptions(retry_wait=0.01, max_attempts=2, max_expansion=2000)
    [landed] = land_results(hostile_hook, job_id, tmp_path, options=options)
    assert landed.bytes == 64 * MiB == (tmp_path / "zeros.csv").stat().st_size


def test_a_gzip_body_of_the_announced_size_lands_decoded(
    hostile: HostileServer, hostile_hook: Any, tmp_path: Path
) -> None:
    url = hostile.file("data.csv", body(gzip.compress(DATA), {"Content-Encoding": "gzip"}))
    job_id = hostile.serve_run([link("data.csv", url, size=len(DATA))])
    [landed] = land_results(hostile_hook, job_id, tmp_path, options=QUICK)
    assert (tmp_path / "data.csv").read_bytes() == DATA
    assert landed.bytes == len(DATA)


def test_a_gzip_body_cut_short_is_retried_then_fails(hostile: HostileServer, hostile_hook: Any, tmp_path: Path) -> None:
    whole = gzip.compress(DATA)
    url = hostile.file("data.csv", body(whole[: len(whole) // 2], {"Content-Encoding": "gzip"}))
    job_id = hostile.serve_run([link("data.csv", url)])
    with pytest.raises(
        SixtyfourDownloadError, match=r"\(2 attempts\): the compressed body ended before its end marker"
    ):
        land_results(hostile_hook, job_id, tmp_path / "out", options=QUICK)
    assert _entries(tmp_path / "out") == []


def test_an_encoding_that_cannot_be_undone_fails_at_once(
    hostile: HostileServer, hostile_hook: Any, tmp_path: Path
) -> None:
    url = hostile.file("data.csv", body(b"\x1b\x00\x00", {"Content-Encoding": "br"}))
    job_id = hostile.serve_run([link("data.csv", url)])
    with pytest.raises(
        SixtyfourDownloadError, match=r"\(1 attempt\): the storage sent the body with Content-Encoding 'br'"
    ):
        land_results(hostile_hook, job_id, tmp_path / "out", options=QUICK)
    assert _entries(tmp_path / "out") == []


# --------------------------------------------------------------------------------------------------
# Items 12 and 14: file names
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("bad\x00name.csv", r"'bad\\x00name\.csv' cannot be landed: the API gave a filename with a NUL byte"),
        ("bad\nname.csv", r"the API gave a filename with the control character '\\n'"),
        ("a" * 252 + ".csv", r"its name is 256 bytes long, and the destination takes names of 255 at most"),
        ("é" * 126 + ".csv", r"its name is 256 bytes long"),
        (".partial-0123456789abcdef", r"looks like this provider's temporary files"),
    ],
    ids=["nul", "newline", "256-bytes", "256-bytes-utf8", "temporary-name"],
)
def test_names_that_cannot_land_fail_before_any_download(
    hostile: HostileServer, hostile_hook: Any, tmp_path: Path, name: str, message: str
) -> None:
    job_id = hostile.serve_run([link(name, hostile.file("data.csv", body(DATA)))])
    with pytest.raises(SixtyfourResultNameError, match=message):
        land_results(hostile_hook, job_id, tmp_path / "out", options=QUICK)
    assert hostile.count("/files/data.csv") == 0
    assert _entries(tmp_path / "out") == []


@pytest.mark.parametrize("name", ["a" * 251 + ".csv", "é" * 125 + "x.csv"], ids=["ascii", "utf8"])
def test_names_of_exactly_255_bytes_land(hostile: HostileServer, hostile_hook: Any, tmp_path: Path, name: str) -> None:
    assert len(name.encode()) == 255
    job_id = hostile.serve_run([link(name, hostile.file("data.csv", body(DATA)), size=len(DATA))])
    [landed] = land_results(hostile_hook, job_id, tmp_path, options=QUICK)
    assert _entries(tmp_path) == [name]
    assert (tmp_path / name).read_bytes() == DATA
    assert landed.uri == f"file://{tmp_path}/{name}"
