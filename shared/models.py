"""pydantic models at the worker's boundaries: jobs from the queue and their payloads."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict


class Job(BaseModel):
    """A row of internal.jobs as returned by claim_jobs_v2, with the context it returns for some kinds."""

    model_config = ConfigDict(extra="ignore")

    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int
    max_attempts: int
    ordering_key: str | None = None
    dedupe_key: str | None = None
    lease_until: datetime | None = None
    created_at: datetime | None = None
    context: dict[str, Any] | None = None  # chat_reply: chat_reply_context_v1, read in the same claim

    @property
    def is_last_attempt(self) -> bool:
        return self.attempts >= self.max_attempts


class ChatReplyPayload(BaseModel):
    """What a chat_reply job carries: ids only; the content is read from the database."""

    model_config = ConfigDict(extra="ignore")

    message_id: UUID  # the user's message
    assistant_message_id: UUID  # the placeholder row to fill
    conversation_id: UUID
    user_id: UUID
