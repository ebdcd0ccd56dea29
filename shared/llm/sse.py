"""Server-sent events as the model APIs stream them: the `data` of each event, in order."""

from __future__ import annotations

from collections.abc import AsyncIterator


async def sse_data(lines: AsyncIterator[str]) -> AsyncIterator[str]:
    """Each event's data (its `data:` lines joined by newlines), once the blank line that ends it arrives.

    `event:`, `id:` and comment lines are skipped: both APIs repeat what matters inside the data."""
    data: list[str] = []
    async for line in lines:
        if line.startswith("data:"):
            data.append(line[6:] if line.startswith("data: ") else line[5:])
        elif not line and data:
            yield "\n".join(data)
            data = []
    if data:  # a stream cut before its last blank line
        yield "\n".join(data)
