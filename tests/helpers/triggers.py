"""Running a trigger in a test."""

from __future__ import annotations

import asyncio
from typing import Any


async def first_event(trigger: Any, timeout: float) -> dict[str, Any]:
    """The payload of the first event a trigger yields; fails if it ends without one or takes ``timeout`` s."""

    async def consume() -> dict[str, Any]:
        async for event in trigger.run():
            return dict(event.payload)
        raise AssertionError("the trigger ended without an event")

    return await asyncio.wait_for(consume(), timeout)
