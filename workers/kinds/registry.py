"""Every job kind the worker runs, by name. tests/schema/test_job_kinds.py checks it against
internal.job_kinds (names, prompt kinds, streaming) and the active prompts.

Adding a kind: its migration (trigger, registry row, context and finish functions, prompt), its module
here, and its name in KINDS (README: "Add a job kind").
"""

from __future__ import annotations

from workers.kinds import (
    chat_reply,
    checkin_analysis,
    child_invitation,
    conversation_summary,
    document_analysis,
    expert_matching,
    followup,
    journey_report,
    knowledge_embedding,
    note_transcription,
    recommendations,
    safety_assessment,
    task_extraction,
    user_summary,
    video_analysis,
)
from workers.kinds.base import Deps, Handler, KindSpec

KINDS: dict[str, KindSpec] = {
    spec.name: spec
    for spec in (
        chat_reply.SPEC,
        checkin_analysis.SPEC,
        recommendations.SPEC,
        user_summary.SPEC,
        conversation_summary.SPEC,
        followup.SPEC,
        safety_assessment.SPEC,
        child_invitation.SPEC,
        document_analysis.SPEC,
        video_analysis.SPEC,
        journey_report.SPEC,
        expert_matching.SPEC,
        knowledge_embedding.SPEC,
        knowledge_embedding.REINDEX_SPEC,
        task_extraction.SPEC,
        note_transcription.SPEC,
    )
}


def handlers(deps: Deps) -> dict[str, Handler]:
    """A handler for every kind, sharing the process's provider, broadcaster and queue."""
    return {name: spec.handler(deps) for name, spec in KINDS.items()}
