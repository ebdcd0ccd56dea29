"""Job kind `child_invitation` (migration 20261207000100): an invitation to share a child reaches the invitee.

An address without an account gets Auth's invite email (`POST /auth/v1/invite` with the service role):
its link signs the invitee up and lands on the app's accept URL with the token, where the app calls
`accept_child_invitation`. An address that has an account gets no email from Auth (it refuses to invite
a registered address); the owner shares the link the RPC returned. No model is called. The finish
function records the delivery and erases the token from the job.
"""

from __future__ import annotations

import logging
from typing import Any, Literal
from urllib.parse import urlencode
from uuid import UUID

import httpx
from pydantic import BaseModel, ConfigDict, Field
from supabase_auth.errors import AuthApiError, AuthError, AuthRetryableError

from shared.errors import TransientError
from shared.models import Job
from workers.kinds.base import Deps, Finished, Handler, JobContext, KindSpec

log = logging.getLogger("workers.kinds.child_invitation")


class InvitationPayload(BaseModel):
    model_config = ConfigDict(extra="ignore")

    invitation_id: UUID
    child_id: UUID
    user_id: UUID  # who invited


class InvitationContext(BaseModel):
    """internal.child_invitation_context; `invitation` is null once it was revoked or accepted."""

    model_config = ConfigDict(extra="ignore")

    invitation: dict[str, Any] | None = None
    child_name: str | None = None
    invited_by: str | None = None
    has_account: bool = False
    token: str | None = None
    accept_url: str = "http://127.0.0.1:3000/invitations/accept"


class Delivery(BaseModel):
    """The output: what happened to the email."""

    model_config = ConfigDict(extra="ignore")

    delivery: Literal["auth_invite_sent", "existing_account", "failed", "skipped"]
    error: str | None = Field(default=None, max_length=1000)


def accept_link(accept_url: str, token: str) -> str:
    """The app page the invite email's link lands on, with the token."""
    separator = "&" if "?" in accept_url else "?"
    return f"{accept_url}{separator}{urlencode({'token': token})}"


def handler(deps: Deps) -> Handler:
    del deps  # no model, no broadcast: Auth's admin API through the worker's service-role client

    async def send(job: Job, ctx: JobContext) -> Finished:
        InvitationPayload.model_validate(job.payload)
        context = InvitationContext.model_validate(job.context)
        invitation = context.invitation
        if invitation is None or not context.token:
            return Finished(Delivery(delivery="skipped"))
        if context.has_account:
            return Finished(Delivery(delivery="existing_account"))
        options: dict[str, Any] = {"redirect_to": accept_link(context.accept_url, context.token)}
        try:
            await ctx.queue.client.auth.admin.invite_user_by_email(str(invitation["email"]), options)  # type: ignore[arg-type]
        except AuthRetryableError as exc:
            raise TransientError(f"Auth invite: {exc.message}") from exc
        except AuthApiError as exc:
            if exc.code == "email_exists":  # the address signed up since the context was built
                return Finished(Delivery(delivery="existing_account"))
            if exc.status == 429 or exc.status >= 500:
                raise TransientError(f"Auth invite {exc.status}: {exc.message}") from exc
            log.warning("invite refused", extra={"job_id": job.id, "status": exc.status, "code": exc.code})
            return Finished(Delivery(delivery="failed", error=f"Auth refused the invitation email: {exc.message}"))
        except (AuthError, httpx.TransportError) as exc:
            raise TransientError(f"Auth invite: {exc!r}") from exc
        return Finished(Delivery(delivery="auth_invite_sent"))

    return send


SPEC = KindSpec(
    name="child_invitation",
    prompt_kind=None,
    streams=False,
    payload=InvitationPayload,
    context=InvitationContext,
    output=Delivery,
    handler=handler,
)
