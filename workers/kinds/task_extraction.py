"""Job kind `task_extraction` (migration 20261208000200): the tasks written in a note become tasks.

The claim brings only the blocks that matter: those not yet examined with their current text, minus
blocks that already have a task or whose task the user deleted. With none left (a note edited elsewhere,
or only re-ordered), no model is called. The model calls `record_tasks` (generated from `ExtractedTasks`);
a task naming a block it was not shown is dropped here and again in the finish, which inserts at most one
task per block and records every block shown as examined.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared.llm.base import Prompt
from shared.models import Job
from shared.schema import tool_for
from workers.kinds.base import Deps, Finished, Handler, JobContext, KindSpec, dump, structured_output, template_prompt

SYSTEM = "You find the tasks in a person's notes. Answer only by calling the tool."
MOST_BLOCKS = 200  # blocks sent in one prompt; the rest wait for the note's next version


class ExtractionPayload(BaseModel):
    model_config = ConfigDict(extra="ignore")

    note_id: UUID
    user_id: UUID
    version: int


class ExtractionContext(BaseModel):
    """internal.task_extraction_context."""

    model_config = ConfigDict(extra="ignore")

    stale: bool = False
    note: dict[str, Any] = Field(default_factory=dict)
    blocks: list[dict[str, Any]] = Field(default_factory=list)
    today: str = ""
    profile: dict[str, Any] | None = None
    prompt: dict[str, Any] | None = None


class ExtractedTask(BaseModel):
    model_config = ConfigDict(extra="ignore")

    block_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)] = Field(
        description="The id of the block the task is written in, exactly as given."
    )
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] = Field(
        description="A short imperative, e.g. 'Buy oat milk'."
    )
    description: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] = Field(
        default="", description="Only what the block says beyond the title."
    )
    due_date: date | None = Field(default=None, description="Only when the block names a day.")
    priority: Literal["low", "medium", "high", "urgent"] | None = Field(
        default=None, description="Only when the block says it is urgent or important."
    )


class ExtractedTasks(BaseModel):
    """The tool's input: the tasks found (possibly none)."""

    model_config = ConfigDict(extra="ignore")

    tasks: list[ExtractedTask] = Field(default_factory=list, max_length=50)


class Examined(BaseModel):
    model_config = ConfigDict(extra="ignore")

    block_id: str
    text_hash: str


class ExtractionOutput(BaseModel):
    """The tasks to insert and the blocks the model was shown."""

    model_config = ConfigDict(extra="ignore")

    tasks: list[ExtractedTask] = Field(default_factory=list)
    examined: list[Examined] = Field(default_factory=list)


TOOL = tool_for(ExtractedTasks, "record_tasks", "Record the tasks found in the note's blocks (an empty list if none).")


def build_prompt(context: ExtractionContext, blocks: list[dict[str, Any]], model: str) -> tuple[Prompt, str]:
    shown = [
        {
            "id": b.get("id"),
            "type": b.get("type"),
            "text": b.get("text"),
            **({"checked": True} if b.get("checked") else {}),
        }
        for b in blocks
    ]
    values = {
        "note_title": str(context.note.get("title") or "Untitled"),
        "blocks": dump(shown),
        "today": context.today,
        "locale": str((context.profile or {}).get("locale") or "en"),
    }
    return template_prompt(context.prompt, values, model, SYSTEM)


def handler(deps: Deps) -> Handler:
    async def extract(job: Job, ctx: JobContext) -> Finished:
        ExtractionPayload.model_validate(job.payload)
        context = ExtractionContext.model_validate(job.context)
        blocks = [b for b in context.blocks if b.get("id") and b.get("text_hash")][:MOST_BLOCKS]
        if context.stale or not blocks:
            return Finished(ExtractionOutput())
        prompt, version = build_prompt(context, blocks, deps.analysis_model)
        found = await structured_output(deps.provider, prompt, version, TOOL, ExtractedTasks)
        assert isinstance(found.output, ExtractedTasks)
        shown = {str(b["id"]) for b in blocks}
        output = ExtractionOutput(
            tasks=[t for t in found.output.tasks if t.block_id in shown],
            examined=[Examined(block_id=str(b["id"]), text_hash=str(b["text_hash"])) for b in blocks],
        )
        return Finished(output, found.calls)

    return extract


SPEC = KindSpec(
    name="task_extraction",
    prompt_kind="task_extraction",
    streams=False,
    payload=ExtractionPayload,
    context=ExtractionContext,
    output=ExtractionOutput,
    handler=handler,
)
