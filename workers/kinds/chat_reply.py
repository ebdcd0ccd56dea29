"""Job kind `chat_reply` (migration 20261206000200): a coach's streamed reply, with a tool loop.

The claim brings the context: coach, prompts, guidelines, profile, memory, summary and turns, the tools
enabled for the coach, the steps of this reply stored so far and the planner's view. The reply streams
turn by turn: text goes out as `delta`s; a turn that calls tools is stored with its calls before any
runs, the calls run in Postgres for the conversation's user, and the next turn gets their results
(workers/agent.py), until the model answers in text or reply.max_tool_steps ends it with a note. The
output goes back with the worker's next claim: internal.chat_reply_finish stores it and broadcasts the
last delta and `done`.

Safety (20261206000150): the message is assessed while the reply starts. Until the decision clears it,
the reply's text is held back (no delta, no checkpoint) and no tool runs; a message that gets a crisis
or fallback response instead withdraws the reply (`withheld`), of which nothing ever left the worker.
Low-risk guidance (the apps' red lines) goes into the system prompt.

The system prompt is ordered for prompt caching: the stable head (the coach's template with persona and
guidelines) is cacheable; what changes per user and turn comes after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field

from shared.llm.base import ChatMessage, Prompt, SystemBlock, Tool
from shared.models import Job
from shared.prompts import DATA_NOTICE, PLACEHOLDER, data_block, data_or, estimate_tokens, fit_history, one_line, render
from workers.agent import Step, ToolSteps
from workers.checkpoints import Checkpoints
from workers.kinds.base import Deps, Finished, Handler, JobContext, KindSpec, ModelCall, dump
from workers.knowledge import ReplyKnowledge, Source, render_sources, retrieval_settings, serving_model
from workers.safety import SafetyDecisions
from workers.streaming import DeltaBatcher, ReplyStream, Withheld

log = logging.getLogger("workers.kinds.chat_reply")

DEFAULT_MAX_STEPS = 6
LONGEST = 32000  # messages.content's limit: a longer reply is cut, as the column would
STEP_LIMIT_NOTE = (
    "\n\n(I stopped here: that was as many steps as I can take in one reply. Tell me if you'd like me to go on.)"
)
CUT_SHORT_NOTE = "\n\n(My reply was cut short here: it reached the most I can write at once. Ask me to go on.)"
REFUSAL_NOTE = "\n\n(I stopped here: I can't continue this reply.)"
# A turn that ends for another reason than finishing its answer says so at the end of the reply, so the
# text stored as `complete` is never a silently truncated one.
STOPPED_NOTES = {
    "max_tokens": CUT_SHORT_NOTE,
    "model_context_window_exceeded": CUT_SHORT_NOTE,
    "refusal": REFUSAL_NOTE,
}


class ChatReplyPayload(BaseModel):
    """Ids only; the content is read from the database."""

    model_config = ConfigDict(extra="ignore")

    message_id: UUID  # the user's message
    assistant_message_id: UUID  # the placeholder row to fill
    conversation_id: UUID
    user_id: UUID


class ChatReplyContext(BaseModel):
    """internal.chat_reply_context."""

    model_config = ConfigDict(extra="ignore")

    message: dict[str, Any] = Field(default_factory=dict)
    conversation: dict[str, Any] = Field(default_factory=dict)
    coach: dict[str, Any] | None = None
    persona: dict[str, Any] | None = None
    prompt: dict[str, Any] | None = None
    guidelines: list[dict[str, Any]] = Field(default_factory=list)
    category: dict[str, Any] | None = None
    profile: dict[str, Any] | None = None
    memory: dict[str, Any] | None = None
    settings: dict[str, Any] = Field(default_factory=dict)
    history: list[dict[str, Any]] = Field(default_factory=list)
    tools: list[dict[str, Any]] = Field(default_factory=list)
    steps: list[Step] = Field(default_factory=list)
    planner: dict[str, Any] | None = None
    safety: dict[str, Any] | None = None  # the decision, once made: {risk_level, categories, guidance, cleared}
    safety_guidance: list[str] = Field(default_factory=list)  # the rules' guidance, known at insert
    child: dict[str, Any] | None = None  # a conversation about a child (internal.child_context)


class ChatReplyOutput(BaseModel):
    """The output: the reply's whole text, the part not yet broadcast, and whether to compact."""

    model_config = ConfigDict(extra="ignore")

    content: str = Field(max_length=LONGEST)
    tail: str = ""
    tail_seq: int | None = None
    compact: bool = False
    withheld: bool = False  # dropped: the message got a crisis or fallback response instead
    citations: list[dict[str, Any]] = Field(default_factory=list)  # the sources the reply cited (workers/knowledge.py)


# -----------------------------------------------------------------------------------------------------
# prompt
# -----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ChatPromptSettings:
    model: str
    history_budget_tokens: int = 6000
    history_limit: int = 60  # turns internal.chat_reply_context returns at most


def with_operator_settings(context: ChatReplyContext, settings: ChatPromptSettings) -> ChatPromptSettings:
    """The history budget from internal.settings (reply.history_token_budget) when operators set one."""
    budget = context.settings.get("reply.history_token_budget")
    if isinstance(budget, int) and budget > 0:
        return replace(settings, history_budget_tokens=budget)
    return settings


def needs_compaction(context: ChatReplyContext, settings: ChatPromptSettings) -> bool:
    """True when the turns after the conversation summary no longer fit the reply's history budget."""
    used = sum(estimate_tokens(str(h.get("content") or "")) for h in context.history)
    return used > settings.history_budget_tokens or len(context.history) >= settings.history_limit


# Placeholders whose values change per user or per turn: the system prompt is cut before the first one
# so that everything above it (coach, persona, guidelines) is a stable, cacheable prefix.
PER_USER = frozenset(
    {
        "locale", "display_name", "user_profile", "user_summary", "conversation_summary", "today", "timezone",
        "today_date", "goals", "plan", "child", "knowledge",
    }
)  # fmt: skip

ABOUT_THE_USER = (
    "About the person: {{display_name}} ({{user_profile}}) Today is {{today}}.\n"
    "What you remember: {{user_summary}}\nEarlier in this conversation: {{conversation_summary}}"
)

ABOUT_THE_CHILD = "This conversation is about a child the person cares for:\n{{child}}"

DEFAULT_CHAT_TEMPLATE = (
    "You are {{coach_name}}, a supportive coach.\n\n{{coach_persona}}\n\n"
    "Guidelines for this conversation:\n{{guidelines}}\n\n"
    "Reply warmly and concisely, in the user's language, and end with one question or small next step."
)


def build_prompt(
    context: ChatReplyContext, settings: ChatPromptSettings, sources: list[Source] | None = None
) -> tuple[Prompt, str]:
    """The reply's prompt (with the coach's tools and the sources retrieved for it) and its prompt version."""
    prompt_row = context.prompt or {}
    template = str(prompt_row.get("template") or DEFAULT_CHAT_TEMPLATE)
    values = _values(context) | {"knowledge": render_sources(sources or [])}
    system = [b for b in (SystemBlock(render(part, values), cache=cache) for part, cache in _split(template)) if b.text]
    system.append(SystemBlock(DATA_NOTICE))
    decided = (context.safety or {}).get("guidance") or []
    guidance = list(dict.fromkeys(str(g) for g in [*context.safety_guidance, *decided] if str(g).strip()))
    if guidance:  # the rules' guidance for this message (red lines): after the cacheable head
        system.append(SystemBlock("For this message, you must:\n" + "\n".join(f"- {g}" for g in guidance)))
    if context.child and "{{child}}" not in template:  # a coach whose prompt does not place the child
        system.append(SystemBlock(render(ABOUT_THE_CHILD, values)))
    if sources and "{{knowledge}}" not in template.replace(" ", ""):  # a coach whose template does not show them
        system.append(SystemBlock(f"Sources found for this message (cite what you use as [n]):\n{values['knowledge']}"))
    history = [
        ChatMessage("assistant" if h.get("role") == "assistant" else "user", str(h.get("content") or ""))
        for h in context.history
    ]
    messages = fit_history(history, settings.history_budget_tokens)
    if not messages:  # the history query always includes the message being answered
        messages = [ChatMessage("user", str(context.message.get("content") or ""))]
    prompt = Prompt(
        model=str(prompt_row.get("model") or settings.model),
        system=system,
        messages=messages,
        max_tokens=int(prompt_row.get("max_tokens") or 1024),
        temperature=float(prompt_row["temperature"]) if prompt_row.get("temperature") is not None else None,
        tools=tuple(Tool(t["name"], t["description"], t["input_schema"]) for t in context.tools),
    )
    return prompt, str(prompt_row.get("prompt_version") or "builtin.chat_reply@v0")


def _split(template: str) -> list[tuple[str, bool]]:
    """(stable head, cacheable) and (per-user tail) of a template, cut at the line of the first per-user value."""
    first = next((m for m in PLACEHOLDER.finditer(template) if m.group(1) in PER_USER), None)
    if first is None:
        return [(template, True), (ABOUT_THE_USER, False)]
    cut = template.rfind("\n", 0, first.start()) + 1
    return [(template[:cut], True), (template[cut:], False)]


def _values(context: ChatReplyContext) -> dict[str, str]:
    coach = context.coach or {}
    profile = context.profile or {}
    planner = context.planner or {}
    timezone = str(profile.get("timezone") or "UTC")
    details = [f"time zone {timezone}", f"language {profile.get('locale') or 'en'}"]
    if profile.get("birth_date"):
        details.append(f"born {profile['birth_date']}")
    return {
        "coach_name": str(coach.get("name") or "your coach"),
        "coach_persona": str((context.persona or {}).get("template") or coach.get("description") or ""),
        "coach_intro": str(coach.get("intro") or ""),
        "guidelines": _guidelines(context.guidelines),
        "category": str((context.category or {}).get("name") or "general wellbeing"),
        "locale": str(profile.get("locale") or "en"),
        "display_name": one_line(str(profile.get("display_name") or "the person you coach"), 80),
        "timezone": timezone,
        "today": _today(timezone),
        "today_date": str(planner.get("today") or ""),
        "user_profile": ", ".join(details) + ".",
        "user_summary": data_or(
            "memory", (context.memory or {}).get("summary"), "Nothing yet: this is a new person to you."
        ),
        "conversation_summary": data_or(
            "conversation_summary", context.conversation.get("summary"), "Nothing earlier: the conversation is below."
        ),
        "goals": data_block("goals", dump(planner["goals"])) if planner.get("goals") else "None yet.",
        "plan": data_block("plan", dump(planner["plan"])) if planner.get("plan") else "No plan for this yet.",
        "child": data_or("child", dump(context.child) if context.child else None, "No child: it is about the person."),
    }


def _guidelines(rows: list[dict[str, Any]]) -> str:
    parts = []
    for row in rows:
        text = str(row.get("guidelines") or "").strip()
        if row.get("avoid"):
            text += f"\nAvoid: {row['avoid']}"
        if row.get("escalation"):
            text += f"\nIf there are signs of risk: {row['escalation']}"
        if text:
            parts.append(f"[{row.get('name') or row.get('slug')}]\n{text}")
    return "\n\n".join(parts) or "No specific guidelines."


def _today(timezone: Any) -> str:
    try:
        zone = ZoneInfo(str(timezone or "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return datetime.now(zone).strftime("%A %d %B %Y")


def _seconds(milliseconds: Any, default: float) -> float:
    return milliseconds / 1000 if isinstance(milliseconds, int | float) and milliseconds > 0 else default


# -----------------------------------------------------------------------------------------------------
# handler
# -----------------------------------------------------------------------------------------------------
@dataclass
class ChatReply:
    deps: Deps
    checkpoints: Checkpoints
    safety: SafetyDecisions

    async def __call__(self, job: Job, ctx: JobContext) -> Finished:
        payload = ChatReplyPayload.model_validate(job.payload)
        context = ChatReplyContext.model_validate(job.context)
        if context.safety is not None and not context.safety.get("cleared"):
            return Finished(ChatReplyOutput(content="", withheld=True))  # its response is written already
        settings = with_operator_settings(context, ChatPromptSettings(model=self.deps.chat_model))
        knowledge = ReplyKnowledge(self.deps.embedders, ctx.queue, job.id, serving_model(context.settings))
        retrieval = retrieval_settings(context.settings, (context.coach or {}).get("slug"))
        sources = await knowledge.retrieve(str(context.message.get("content") or ""), retrieval) if retrieval else []
        prompt, version = build_prompt(context, settings, sources)
        topic, reply_id = f"conversation:{payload.conversation_id}", str(payload.assistant_message_id)
        interval = _seconds(context.settings.get("reply.delta_interval_ms"), self.deps.delta_interval)
        # Not decided yet: generate, but hold everything back until the decision.
        gate = None if context.safety is not None else self.safety.watch(str(payload.message_id))
        stream = ReplyStream(
            job.id,
            reply_id,
            DeltaBatcher(self.deps.broadcaster, topic, reply_id, interval, gate, job.attempts),
            self.checkpoints,
            _seconds(context.settings.get("reply.checkpoint_interval_ms"), self.deps.checkpoint_seconds),
        )
        if gate is not None:  # its text so far may go out with the decision that clears the message
            self.safety.hold(str(payload.message_id), stream.batcher)
        try:
            final, call = await self._generate(job, ctx, context, prompt, version, stream, gate, knowledge)
            await stream.cleared()
            await stream.flushed()
        except Withheld:
            log.info("reply withheld: the message got a safety response", extra={"job_id": job.id})
            return Finished(ChatReplyOutput(content="", withheld=True), tuple(knowledge.calls))
        except Exception as exc:
            ctx.metrics.inc("coachbase_llm_errors_total", kind=job.kind, error=type(exc).__name__)
            if stream.open:
                error = {"message_id": reply_id, "retrying": not job.is_last_attempt, "error": type(exc).__name__}
                await self.deps.broadcaster.send(topic, "error", error)
            raise
        finally:  # a reply that ended (or failed) hands nothing more to the decision
            self.safety.unhold(str(payload.message_id), stream.batcher)
        tail, tail_seq = stream.batcher.take_tail()
        output = ChatReplyOutput(
            content=final[:LONGEST],
            tail=tail,
            tail_seq=tail_seq or None,
            compact=needs_compaction(context, settings),
            citations=knowledge.citations(final[:LONGEST]),
        )
        return Finished(output, (*knowledge.calls, call))  # the reply's own call last: it stamps the message

    async def _generate(
        self,
        job: Job,
        ctx: JobContext,
        context: ChatReplyContext,
        prompt: Prompt,
        version: str,
        stream: ReplyStream,
        gate: asyncio.Future[bool] | None,
        knowledge: ReplyKnowledge,
    ) -> tuple[str, ModelCall]:
        """The tool loop; a decision against the message while it runs stops it at once (Withheld)."""
        if gate is None or gate.done():
            return await self._loop(job, ctx, context, prompt, version, stream, knowledge)
        loop = asyncio.ensure_future(self._loop(job, ctx, context, prompt, version, stream, knowledge))
        waiting: list[asyncio.Future[Any]] = [loop, gate]
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        if not loop.done() and not stream.open:
            loop.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await loop
            await stream.cleared()  # raises Withheld (or the wait's error)
        return await loop

    async def _loop(
        self,
        job: Job,
        ctx: JobContext,
        context: ChatReplyContext,
        prompt: Prompt,
        version: str,
        stream: ReplyStream,
        knowledge: ReplyKnowledge,
    ) -> tuple[str, ModelCall]:
        """Model turns until one answers in text (or the step limit); the reply's text and its last call."""
        steps = ToolSteps(ctx.queue, job.id)
        done = list(context.steps)
        stream.resume([step.text for step in done])  # a reply taken over: its text so far
        if done and done[-1].pending:  # ... and the stored calls that have not run
            await knowledge.before_tools(c for c in done[-1].calls if c.status == "pending")
            done[-1] = await steps.resume(done[-1])
        for step in done:
            knowledge.after_tools(step)
        most = _max_steps(context.settings.get("reply.max_tool_steps"))
        number = len(done) + 1
        while True:
            turn = replace(prompt, messages=[*prompt.messages, *(m for s in done for m in s.messages())])
            completion = await stream.turn(self.deps.provider, turn)
            call = ModelCall(completion.model, version, completion.usage)
            if not completion.tool_calls:
                note = STOPPED_NOTES.get(completion.stop_reason or "")
                if note is not None:
                    log.warning(
                        "the model's turn stopped before its answer was done",
                        extra={"job_id": job.id, "stop_reason": completion.stop_reason},
                    )
                    await stream.add(note)
                return stream.text, call
            if number > most:
                log.info("tool step limit reached", extra={"job_id": job.id, "steps": number})
                await stream.add(STEP_LIMIT_NOTE)
                return stream.text, call
            await stream.cleared()  # no tool acts for a message that is not cleared
            # The turn's unsent text goes out from the step's transaction, before its tool events; text that
            # must wait (its fate rests with the safety decision's answer) goes out on its own once it may.
            # Nothing here waits for a broadcast: that would put it in front of the tool call.
            delta = stream.batcher.take_now()
            if delta is None and stream.batcher.pending:
                stream.flush_soon()
            await knowledge.before_tools(completion.tool_calls)
            taken = {c.tool_use_id for step in done for c in step.calls}
            done.append(await steps.run(number, completion.text, completion.tool_calls, call, delta, taken))
            knowledge.after_tools(done[-1])
            log.info(
                "tool step done",
                extra={"job_id": job.id, "step": number, "calls": [c.name for c in done[-1].calls]},
            )
            number += 1


def _max_steps(value: Any) -> int:
    return value if isinstance(value, int) and 1 <= value <= 50 else DEFAULT_MAX_STEPS


def handler(deps: Deps) -> Handler:
    return ChatReply(deps, Checkpoints(deps.queue), deps.safety or SafetyDecisions(deps.queue))


SPEC = KindSpec(
    name="chat_reply",
    prompt_kind="chat_reply",
    streams=True,
    payload=ChatReplyPayload,
    context=ChatReplyContext,
    output=ChatReplyOutput,
    handler=handler,
)
