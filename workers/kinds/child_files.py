"""What the analyses of a child's files share: the vocabulary of their observations, their context's common
part, and the prompt with pictures (a document's scan, a video's frames)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared.llm.base import Block, ChatMessage, ImageBlock, Prompt, SystemBlock, TextBlock
from shared.prompts import DATA_NOTICE, data_block, render
from workers.kinds.base import active_prompt, dump

SYSTEM = (
    "You assist developmental professionals by reading what families share about their child. You describe; you "
    "never diagnose. Answer only by calling the tool."
)

Area = Literal[
    "communication", "motor", "social", "play", "cognitive", "sensory", "feeding", "sleep", "behavior", "emotional",
    "medical", "other",
]  # fmt: skip
# The professions a family may be pointed to; experts.specialties uses the same words (a test compares).
Specialty = Literal[
    "developmental_pediatrics", "speech_language_therapy", "occupational_therapy", "physiotherapy",
    "child_psychology", "child_psychiatry", "pediatric_neurology", "audiology", "feeding_therapy",
    "sleep_consulting", "special_education",
]  # fmt: skip

Line = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]


class Observation(BaseModel):
    model_config = ConfigDict(extra="ignore")

    area: Area
    observation: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)] = Field(
        description="What is stated or seen, in a sentence; no diagnosis."
    )
    evidence: Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)] = Field(
        default="", description="A short quote from the document, or the frames it is seen in (e.g. 'frames 2-4')."
    )


Summary = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class FilePayload(BaseModel):
    """A job about one of a child's files: ids only."""

    model_config = ConfigDict(extra="ignore")

    child_id: str
    user_id: str | None = None  # who uploaded it


class FileContext(BaseModel):
    """The common part of the analyses' contexts."""

    model_config = ConfigDict(extra="ignore")

    stored: dict[str, Any] | None = None  # the object's size and type as Storage keeps them
    child: dict[str, Any] | None = None
    locale: str = "en"
    limits: dict[str, Any] = Field(default_factory=dict)
    prompt: dict[str, Any] | None = None

    def limit(self, name: str, default: int) -> int:
        value = self.limits.get(name)
        return value if isinstance(value, int) and value > 0 else default


def picture_prompt(
    prompt_row: dict[str, Any] | None, values: dict[str, str], model: str, images: list[ImageBlock]
) -> tuple[Prompt, str]:
    """The kind's template as the user turn, followed by the pictures; (prompt, prompt version)."""
    row = active_prompt(prompt_row)
    text = render(str(row["template"]), values)
    content: str | tuple[Block, ...] = (TextBlock(text), *images) if images else text
    prompt = Prompt(
        model=str(row.get("model") or model),
        system=[SystemBlock(SYSTEM), SystemBlock(DATA_NOTICE)],
        messages=[ChatMessage("user", content)],
        max_tokens=int(row.get("max_tokens") or 1500),
    )
    return prompt, str(row.get("prompt_version"))


def child_value(context: FileContext) -> str:
    return data_block("child", dump(context.child)) if context.child else "Unknown."
