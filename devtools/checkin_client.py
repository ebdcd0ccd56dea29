"""`/checkin` in the terminal client: fill a category's check-in form, then watch the analysis and the
recommendations arrive over Realtime (Postgres Changes), exactly as an app would."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from realtime import RealtimePostgresChangesListenEvent, RealtimeSubscribeStates
from supabase import AsyncClient


def _rows(response: Any) -> list[dict[str, Any]]:
    return [dict(row) for row in response.data or []]


async def ask(label: str, default: str) -> str:
    answer = (await asyncio.to_thread(input, f"  {label} [{default}]: ")).strip()
    return answer or default


async def answer(question: dict[str, Any]) -> Any:
    """Ask one question of the form; an empty answer takes the default shown."""
    kind, label = question["type"], question["label"]
    if kind in ("scale", "number"):
        low, high = question.get("min", 0), question.get("max", 10)
        text = await ask(f"{label} ({low}-{high})", str(low if kind == "number" else (low + high) // 2))
        return int(text) if kind == "scale" else float(text)
    if kind in ("choice", "multi_choice"):
        options = question["options"]
        listing = ", ".join(f"{i}={o}" for i, o in enumerate(options, 1))
        text = await ask(f"{label} ({listing}{'; several: 1,3' if kind == 'multi_choice' else ''})", "1")
        picked = [options[int(p) - 1] for p in text.split(",") if p.strip().isdigit() and 0 < int(p) <= len(options)]
        return picked or [options[0]] if kind == "multi_choice" else (picked or [options[0]])[0]
    if kind == "boolean":
        return (await ask(f"{label} (y/n)", "y")).lower().startswith("y")
    return await ask(label, "ok")


def _enqueue(queue: asyncio.Queue[tuple[str, dict[str, Any]]], table: str) -> Any:
    def on_change(payload: Any) -> None:
        queue.put_nowait((table, dict(payload["data"]["record"])))

    return on_change


async def pick_category(client: AsyncClient, slug: str | None) -> dict[str, Any] | None:
    query = client.table("categories").select("*").eq("checkin_enabled", True).eq("is_active", True)
    categories = _rows(await query.order("sort_order").execute())
    if slug:
        return next((c for c in categories if c["slug"] == slug), None)
    for i, category in enumerate(categories, 1):
        print(f"  {i}. {category['name']} ({category['slug']})")
    choice = await ask("Check in on which area?", "1")
    index = int(choice) - 1 if choice.isdigit() and 0 < int(choice) <= len(categories) else 0
    return categories[index]


async def run_checkin(client: AsyncClient, user_id: str, slug: str | None) -> None:
    category = await pick_category(client, slug)
    if category is None:
        print(f"  no check-in area {slug!r}")
        return
    print(f"\nCheck-in: {category['name']}")
    answers = {q["id"]: await answer(q) for q in category["checkin_questions"]}
    level = int(await ask("Overall, how are you doing (1-10)?", "6"))
    note = await ask("Anything to add?", "")
    arrived: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
    channel = client.channel(f"checkin-{user_id}-{asyncio.get_running_loop().time():.0f}")
    for table, event in (("checkins", "UPDATE"), ("recommendations", "INSERT")):
        channel.on_postgres_changes(
            RealtimePostgresChangesListenEvent(event),
            _enqueue(arrived, table),
            schema="public",
            table=table,
            filter=f"user_id=eq.{user_id}",
        )
    joined = asyncio.Event()
    await channel.subscribe(lambda s, _e: joined.set() if s == RealtimeSubscribeStates.SUBSCRIBED else None)
    await asyncio.wait_for(joined.wait(), 10)
    row = {
        "category_id": category["id"],
        "level": level,
        "answers": answers,
        "note": note or None,
        "status": "completed",
    }
    created = _rows(await client.table("checkins").insert(row).execute())[0]
    print("  saved; your coach is looking at it…")
    try:
        await show_results(client, created["id"], arrived)
    finally:
        await client.remove_channel(channel)


async def show_results(
    client: AsyncClient, checkin_id: str, arrived: asyncio.Queue[tuple[str, dict[str, Any]]]
) -> None:
    """Print the analysis and recommendations as they arrive; the database fills in anything missed."""
    shown: set[str] = set()
    analysed = False
    deadline = asyncio.get_running_loop().time() + 60
    while asyncio.get_running_loop().time() < deadline:
        with contextlib.suppress(TimeoutError):
            table, record = await asyncio.wait_for(arrived.get(), 3 if not analysed else 2)
            if table == "checkins" and record.get("id") == checkin_id and record.get("analyzed_at") and not analysed:
                analysed = True
                _print_analysis(record)
            elif table == "recommendations" and record.get("checkin_id") == checkin_id and record["id"] not in shown:
                shown.add(record["id"])
                _print_recommendation(record)
            continue
        if analysed and shown:
            return
        current = _rows(await client.table("checkins").select("*").eq("id", checkin_id).execute())
        if current and current[0]["analyzed_at"] and not analysed:
            analysed = True
            _print_analysis(current[0])
        for rec in _rows(await client.table("recommendations").select("*").eq("checkin_id", checkin_id).execute()):
            if rec["id"] not in shown:
                shown.add(rec["id"])
                _print_recommendation(rec)
    if not analysed:
        print("  no analysis within a minute: is a worker running (`make dev`)?")


def _print_analysis(record: dict[str, Any]) -> None:
    insights = record.get("insights") or {}
    print(f"\n  Analysis: {record.get('summary')}")
    print(f"  trend: {insights.get('trend')} · focus: {insights.get('focus')}")


def _print_recommendation(record: dict[str, Any]) -> None:
    print(f"  → [{record['importance']}] {record['title']} — {record['body']}")
