"""Reading Auth's emails from the mail catcher's Mailpit API, as a person (or a test) would."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import httpx


@dataclass(frozen=True)
class Mail:
    subject: str
    to: list[str]
    text: str
    html: str

    @property
    def code(self) -> str:
        match = re.search(r"enter the code: (\d+)", self.text, re.IGNORECASE)
        assert match is not None, self.text
        return match.group(1)

    @property
    def link(self) -> str:
        match = re.search(r'href="([^"]+)"', self.html)
        assert match is not None, self.html
        return match.group(1).replace("&amp;", "&")

    @property
    def token_hash(self) -> str:
        return parse_qs(urlsplit(self.link).query)["token"][0]


def inbox(mail_url: str, address: str) -> list[Mail]:
    """The messages sent to `address`, newest first (Mailpit's search, then each message)."""
    with httpx.Client(base_url=mail_url, timeout=10) as http:
        found = http.get("/api/v1/search", params={"query": f'to:"{address}"'})
        found.raise_for_status()
        out = []
        for summary in found.json()["messages"]:
            full = http.get(f"/api/v1/message/{summary['ID']}").json()
            out.append(Mail(full["Subject"], [a["Address"] for a in full["To"]], full["Text"], full["HTML"]))
        return out


def last_mail(mail_url: str, address: str, subject: str) -> Mail:
    mails = [m for m in inbox(mail_url, address) if m.subject == subject]
    assert mails, f"no {subject!r} email to {address}: {inbox(mail_url, address)}"
    return mails[0]
