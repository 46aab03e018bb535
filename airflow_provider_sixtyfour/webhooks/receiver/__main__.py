"""``sixtyfour-webhook-receiver``: serve until SIGINT or SIGTERM. Settings come from the environment only, so
no secret is ever on a command line."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys

from airflow_provider_sixtyfour.webhooks.receiver.settings import ENV_VARS, ReceiverSettings, SettingsError

log = logging.getLogger("airflow_provider_sixtyfour.webhooks.receiver")


async def serve(settings: ReceiverSettings) -> None:
    """Listen on ``settings.host:port`` until SIGINT or SIGTERM."""
    from aiohttp import web

    from airflow_provider_sixtyfour.webhooks.receiver.service import build_app

    runner = web.AppRunner(build_app(settings), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    await site.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    port = runner.addresses[0][1] if runner.addresses else settings.port
    log.info(
        "sixtyfour-webhook-receiver listening on %s:%s%s, %d signing secret(s), Airflow at %s",
        settings.host,
        port,
        settings.path,
        len(settings.secrets),
        settings.airflow_url,
        extra={"sixtyfour": {"event": "started", "port": port}},
    )
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
        log.info("sixtyfour-webhook-receiver stopped")


def main(argv: list[str] | None = None) -> int:
    """The console script."""
    from airflow_provider_sixtyfour.webhooks.receiver.logs import configure

    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in ("-h", "--help"):
        print(__doc__.strip() + "\n\nEnvironment:")
        for name, meaning in ENV_VARS.items():
            print(f"  {name}\n      {meaning}")
        return 0
    try:
        settings = ReceiverSettings.from_env(os.environ)
    except SettingsError as err:
        print(f"sixtyfour-webhook-receiver: {err}", file=sys.stderr)
        return 2
    configure(settings.log_level)
    try:
        asyncio.run(serve(settings))
    except OSError as err:
        log.error("cannot listen on %s:%s: %s", settings.host, settings.port, err.strerror)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
