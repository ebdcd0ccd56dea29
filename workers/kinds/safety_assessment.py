"""Job kind `safety_assessment` (migration 20261206000150): every user message is assessed before its reply.

The rules pass already ran in the message's insert; this asks the classifier (a small fast model, its
own prompt and `model.safety_assessment` setting) to call `record_safety_assessment`, generated from
`SafetyAssessment`. The finish function decides: cleared for coaching, or a crisis response and an
escalation. Fail closed: a classifier that is slow past `safety.classifier_timeout_ms` or failing is
retried once; then (or at once for a permanent error) the job finishes as `unavailable` and the rules
decide, which never clears a message for coaching.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared.errors import PermanentError, TransientError
from shared.llm.base import Prompt
from shared.models import Job
from shared.prompts import as_data
from shared.schema import tool_for
from workers.kinds.base import Deps, Finished, Handler, JobContext, KindSpec, structured_output, template_prompt

log = logging.getLogger("workers.kinds.safety_assessment")

SYSTEM = "You assess the safety of messages for a coaching service. Answer only by calling the tool."
Risk = Literal["none", "low", "elevated", "imminent"]
RISKS = ["none", "low", "elevated", "imminent"]
Category = Literal[
    "suicide",
    "self_harm",
    "harm_to_others",
    "abuse_disclosure",
    "child_abuse_disclosure",
    "medical_emergency",
    "infant_emergency",
    "eating_disorder",
    "diagnosis_request",
    "infant_feeding_red_line",
]


class SafetyPayload(BaseModel):
    model_config = ConfigDict(extra="ignore")

    message_id: UUID
    user_id: UUID
    conversation_id: UUID


class SafetyContext(BaseModel):
    model_config = ConfigDict(extra="ignore")

    message: dict[str, Any]
    rules: dict[str, Any] | None = None
    profile: dict[str, Any] | None = None
    decided: bool = False
    timeout_ms: int = 8000
    prompt: dict[str, Any] | None = None


class SafetyAssessment(BaseModel):
    """What the classifier records (its tool's input)."""

    model_config = ConfigDict(extra="ignore")

    risk_level: Risk = Field(description="none, low, elevated or imminent (see the instructions).")
    categories: list[Category] = Field(
        default_factory=list, min_length=0, description="Every category that applies (none: an empty list)."
    )
    rationale: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] = Field(
        default="", description="One short sentence, in English."
    )


class HeldText(BaseModel):
    """Reply text held back for the message in this worker, as the delta it goes out as: the finish's
    decision sends it from the database if it clears the message (20261210000000), with the reply's
    attempt (20261210000100)."""

    message_id: str  # the reply
    seq: int = Field(ge=1)
    text: str
    attempt: int = Field(ge=1)


class SafetyOutput(BaseModel):
    """The output: the classifier's assessment, or `unavailable` (the rules decide)."""

    model_config = ConfigDict(extra="ignore")

    risk_level: Risk | None = None
    categories: list[Category] = Field(default_factory=list)
    rationale: str = ""
    unavailable: bool = False
    reason: str = ""
    release: list[HeldText] = Field(default_factory=list)


TOOL = tool_for(SafetyAssessment, "record_safety_assessment", "Record the safety assessment of the message.")


def build_prompt(context: SafetyContext, model: str) -> tuple[Prompt, str]:
    rules = context.rules or {}
    matched = ", ".join(rules.get("categories") or []) or "none"
    values = {
        "message": as_data(str(context.message.get("content") or "")),
        "locale": str((context.profile or {}).get("locale") or "en"),
        "rules": f"{matched} (their level: {rules.get('risk_level') or 'none'})",
    }
    return template_prompt(context.prompt, values, model, SYSTEM)


def handler(deps: Deps) -> Handler:
    async def assess(job: Job, ctx: JobContext) -> Finished:
        SafetyPayload.model_validate(job.payload)
        context = SafetyContext.model_validate(job.context)
        if context.decided:  # decided already (the rules, after this job had given up): nothing to add
            return Finished(SafetyOutput(unavailable=True, reason="already decided"))
        prompt, version = build_prompt(context, deps.analysis_model)
        try:
            async with asyncio.timeout(context.timeout_ms / 1000):
                result = await structured_output(deps.provider, prompt, version, TOOL, SafetyAssessment)
        except (TimeoutError, TransientError) as exc:
            if not job.is_last_attempt:
                raise TransientError(f"safety classifier: {exc!r}", retry_after=0.5) from exc
            return _unavailable(job, f"classifier unavailable: {exc!r}")
        except PermanentError as exc:
            return _unavailable(job, f"classifier failed: {exc}")
        output = SafetyOutput(**result.output.model_dump())
        # The decision the finish will make (internal.decide_message_safety): cleared when the higher of the
        # two risks is none or low. Once the finish has committed it, replies waiting in this process hear
        # it at once (the others by its broadcast).
        rules = RISKS.index(str((context.rules or {}).get("risk_level") or "none"))
        cleared = max(rules, RISKS.index(output.risk_level or "none")) <= RISKS.index("low")
        message_id = str(context.message.get("id"))
        safety = deps.safety
        if safety is None:
            return Finished(output, result.calls, urgent=True)
        # A reply held back in this process hands its text to the decision, which sends it at commit if it
        # clears the message: the first text reaches the app without two more hops through this worker.
        holder = safety.holder(message_id) if cleared else None
        held = holder.hand_over() if holder is not None else None
        if held is not None:
            output.release = [HeldText.model_validate(held)]

        def then(committed: bool) -> None:
            if holder is not None and held is not None:
                holder.handed_out(committed)
            if committed:
                safety.decided(message_id, cleared)

        return Finished(output, result.calls, urgent=True, then=then)

    return assess


def _unavailable(job: Job, reason: str) -> Finished:
    log.warning("safety classifier unavailable: the rules decide", extra={"job_id": job.id, "reason": reason[:300]})
    return Finished(SafetyOutput(unavailable=True, reason=reason[:500]), urgent=True)


SPEC = KindSpec(
    name="safety_assessment",
    prompt_kind="safety_assessment",
    streams=False,
    payload=SafetyPayload,
    context=SafetyContext,
    output=SafetyOutput,
    handler=handler,
)
