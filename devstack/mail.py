"""The local mail catcher: the emails Auth sends, readable through Mailpit's HTTP API on :54324.

`supabase start` runs Mailpit there, and local tooling (and people) read confirmation links and codes
from `GET /api/v1/messages` and `GET /api/v1/message/{ID}`. The devstack's Auth hands its messages over
in process (no SMTP); the catcher keeps the latest `capacity` of them in memory, newest first.
"""

from __future__ import annotations

import html
import re
import secrets
import string
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

_ID_ALPHABET = string.ascii_letters + string.digits
_TAGS = re.compile(r"<[^>]+>")


@dataclass(frozen=True)
class Address:
    name: str
    address: str

    def json(self) -> dict[str, str]:
        return {"Name": self.name, "Address": self.address}


@dataclass
class Message:
    sender: Address
    to: list[Address]
    subject: str
    html: str
    id: str = field(default_factory=lambda: "".join(secrets.choice(_ID_ALPHABET) for _ in range(22)))
    message_id: str = field(default_factory=lambda: f"{uuid.uuid4()}@devstack")
    created: datetime = field(default_factory=lambda: datetime.now(UTC))
    read: bool = False

    @property
    def text(self) -> str:
        """The plain-text rendering (links keep their URL), as a text/plain part would carry it."""
        with_links = re.sub(r'<a href="([^"]+)">([^<]*)</a>', r"\2 ( \1 )", self.html)
        lines = (html.unescape(_TAGS.sub("", part)).strip() for part in re.split(r"</(?:p|h2)>", with_links))
        return "\n\n".join(line for line in lines if line)

    @property
    def size(self) -> int:
        return len(self.html.encode()) + len(self.text.encode())

    def summary(self) -> dict[str, Any]:
        return {
            "ID": self.id,
            "MessageID": self.message_id,
            "Read": self.read,
            "From": self.sender.json(),
            "To": [a.json() for a in self.to],
            "Cc": [],
            "Bcc": [],
            "ReplyTo": [],
            "Subject": self.subject,
            "Created": self.created.isoformat().replace("+00:00", "Z"),
            "Tags": [],
            "Size": self.size,
            "Attachments": 0,
            "Snippet": self.text[:250],
        }

    def full(self) -> dict[str, Any]:
        return {
            "ID": self.id,
            "MessageID": self.message_id,
            "From": self.sender.json(),
            "To": [a.json() for a in self.to],
            "Cc": [],
            "Bcc": [],
            "ReplyTo": [],
            "ReturnPath": self.sender.address,
            "Subject": self.subject,
            "Date": self.created.isoformat().replace("+00:00", "Z"),
            "Tags": [],
            "Text": self.text,
            "HTML": self.html,
            "Size": self.size,
            "Inline": [],
            "Attachments": [],
        }


class Mailbox:
    """The messages caught so far, newest first, at most `capacity` of them."""

    def __init__(self, capacity: int = 1000) -> None:
        self._messages: deque[Message] = deque(maxlen=capacity)

    def deliver(self, message: Message) -> None:
        self._messages.appendleft(message)

    def messages(self) -> list[Message]:
        return list(self._messages)

    def find(self, message_id: str) -> Message | None:
        if message_id == "latest":
            return self._messages[0] if self._messages else None
        return next((m for m in self._messages if m.id == message_id), None)

    def clear(self) -> None:
        self._messages.clear()


def _matches(message: Message, query: str) -> bool:
    """Mailpit's search, the part tools use: `to:`, `from:`, `subject:` terms and plain words (all must match)."""
    for term in re.findall(r'(\w+:"[^"]*"|\w+:\S+|"[^"]*"|\S+)', query):
        key, _, value = term.partition(":") if re.match(r"^\w+:", term) else ("", "", term)
        value = value.strip('"').lower()
        if key == "to":
            found = any(value in a.address.lower() or value in a.name.lower() for a in message.to)
        elif key == "from":
            found = value in message.sender.address.lower()
        elif key == "subject":
            found = value in message.subject.lower()
        else:
            found = value in (message.subject + " " + message.text).lower()
        if not found:
            return False
    return True


def _page(request: Request, messages: list[Message], total: int) -> Response:
    start = int(request.query_params.get("start", "0") or 0)
    limit = int(request.query_params.get("limit", "50") or 50)
    page = messages[start : start + limit]
    return JSONResponse(
        {
            "total": total,
            "unread": sum(not m.read for m in messages),
            "count": len(page),
            "messages_count": len(messages),
            "start": start,
            "tags": [],
            "messages": [m.summary() for m in page],
        }
    )


def create_mail_app(mailbox: Mailbox) -> Starlette:
    async def list_messages(request: Request) -> Response:
        messages = mailbox.messages()
        return _page(request, messages, len(messages))

    async def search(request: Request) -> Response:
        everything = mailbox.messages()
        found = [m for m in everything if _matches(m, request.query_params.get("query", ""))]
        return _page(request, found, len(everything))

    async def get_message(request: Request) -> Response:
        message = mailbox.find(request.path_params["id"])
        if message is None:
            return Response("message not found", 404, media_type="text/plain")
        message.read = True
        return JSONResponse(message.full())

    async def delete_messages(_: Request) -> Response:
        mailbox.clear()
        return Response("ok", 200, media_type="text/plain")

    return Starlette(
        routes=[
            Route("/api/v1/messages", list_messages, methods=["GET"]),
            Route("/api/v1/messages", delete_messages, methods=["DELETE"]),
            Route("/api/v1/search", search, methods=["GET"]),
            Route("/api/v1/message/{id}", get_message, methods=["GET"]),
        ]
    )
