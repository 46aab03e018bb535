"""``sixtyfour-emulator``: serve the local Sixtyfour API until SIGTERM or Ctrl-C.

Prints one line, ``Sixtyfour emulator listening on http://HOST:PORT``, once it accepts connections.
The API key is never printed: pass it with ``--api-key`` (repeatable), a config file, or the
``SIXTYFOUR_EMULATOR_API_KEY`` environment variable (default ``emulator-dev-key``).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

DEFAULT_PORT = 8064
DEFAULT_DEV_KEY = "emulator-dev-key"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sixtyfour-emulator",
        description="A local emulator of the Sixtyfour Workflows API, for demos and tests.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0 picks one)")
    parser.add_argument(
        "--api-key",
        action="append",
        dest="api_keys",
        metavar="KEY",
        help="an accepted API key (repeatable; default $SIXTYFOUR_EMULATOR_API_KEY or 'emulator-dev-key')",
    )
    parser.add_argument("--config", help="JSON file with workflows, keys, faults and settings")
    parser.add_argument(
        "--rate-limit", type=int, metavar="N", help="requests per minute per key (default 500; 0 disables)"
    )
    parser.add_argument("--time-scale", type=float, help="multiply run durations (0.1: ten times faster)")
    parser.add_argument("--link-ttl", type=float, help="seconds signed download URLs stay valid (default 900)")
    parser.add_argument("--seed", type=int, help="seed for reproducible fault draws")
    return parser


def _server_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    from airflow_provider_sixtyfour.emulator.config import load_config

    kwargs: dict[str, Any] = load_config(args.config) if args.config else {}
    if args.api_keys:
        kwargs["api_keys"] = args.api_keys
    elif "api_keys" not in kwargs:
        kwargs["api_keys"] = [os.environ.get("SIXTYFOUR_EMULATOR_API_KEY") or DEFAULT_DEV_KEY]
    if args.rate_limit is not None:
        kwargs["rate_limit_per_minute"] = args.rate_limit or None
    if args.time_scale is not None:
        kwargs["time_scale"] = args.time_scale
    if args.link_ttl is not None:
        kwargs["link_ttl_seconds"] = args.link_ttl
    if args.seed is not None:
        kwargs["seed"] = args.seed
    kwargs["host"] = args.host
    kwargs["port"] = args.port
    return kwargs


def main(argv: Sequence[str] | None = None) -> int:
    """Run the emulator in the foreground; returns the exit code."""
    args = _parser().parse_args(argv)
    from airflow_provider_sixtyfour.emulator.server import EmulatorServer

    try:
        server = EmulatorServer(**_server_kwargs(args))
        server.start()
    except (OSError, ValueError, TypeError, RuntimeError) as err:
        print(f"sixtyfour-emulator: {err}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    print(f"Sixtyfour emulator listening on {server.base_url}", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
