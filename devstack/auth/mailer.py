"""The emails GoTrue sends (its default templates), with their one-time tokens, to the mail catcher.

Every email carries a link to `/auth/v1/verify` with the token's hash and the code itself, as GoTrue's
default templates do. The tokens are stored as GoTrue stores them: the SHA-224 of the address and the
code, prefixed `pkce_` when a PKCE flow state waits for the verification.
"""

from __future__ import annotations

import hashlib
import html
import logging
import secrets
from dataclasses import dataclass
from urllib.parse import urlencode

from devstack.auth import errors
from devstack.auth.web import AuthContext
from devstack.mail import Address, Message

log = logging.getLogger("devstack.auth")

# (subject, heading and text before the link, link text) of GoTrue's default templates.
TEMPLATES: dict[str, tuple[str, str, str]] = {
    "signup": (
        "Confirm Your Signup",
        "<h2>Confirm your signup</h2><p>Follow this link to confirm your user:</p>",
        "Confirm your mail",
    ),
    "invite": (
        "You have been invited",
        "<h2>You have been invited</h2><p>You have been invited to create a user on {site}. "
        "Follow this link to accept the invite:</p>",
        "Accept the invite",
    ),
    "magiclink": ("Your Magic Link", "<h2>Magic Link</h2><p>Follow this link to login:</p>", "Log In"),
    "recovery": (
        "Reset Your Password",
        "<h2>Reset Password</h2><p>Follow this link to reset the password for your user:</p>",
        "Reset Password",
    ),
    "email_change": (
        "Confirm Email Change",
        "<h2>Confirm Change of Email</h2><p>Follow this link to confirm the update of your email from {email}"
        " to {new_email}:</p>",
        "Change Email",
    ),
}


def new_otp(length: int) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(length))


def token_hash(address: str, otp: str) -> str:
    """GoTrue's GenerateTokenHash: hex SHA-224 of the address and the code."""
    return hashlib.sha224((address + otp).encode()).hexdigest()


@dataclass(frozen=True)
class Link:
    """A one-time token: the code, its hash (what the link carries) and the verification link."""

    otp: str
    hashed: str
    action_link: str
    redirect_to: str


def make_link(ctx: AuthContext, kind: str, address: str, redirect_to: str, *, pkce: bool = False) -> Link:
    otp = new_otp(ctx.config.project.otp_length)
    hashed = ("pkce_" if pkce else "") + token_hash(address, otp)
    query = urlencode({"token": hashed, "type": kind, "redirect_to": redirect_to})
    return Link(otp, hashed, f"{ctx.config.issuer}/verify?{query}", redirect_to)


def redirect_target(ctx: AuthContext, requested: str | None) -> str:
    """GoTrue's redirect check: the site URL or an allow-listed URL (prefix), else the site URL."""
    project = ctx.config.project
    if requested:
        for allowed in (project.site_url, *project.additional_redirect_urls):
            if requested == allowed or requested.startswith(allowed.rstrip("/") + "/") or _glob(allowed, requested):
                return requested
    return project.site_url


def _glob(pattern: str, url: str) -> bool:
    if "*" not in pattern:
        return False
    prefix = pattern.split("*", 1)[0]
    return url.startswith(prefix)


def send(ctx: AuthContext, kind: str, to: str, link: Link, *, new_email: str = "", email: str = "") -> None:
    """Deliver one of GoTrue's emails (`kind` a template name, or `reauthentication`)."""
    if kind == "reauthentication":
        subject = "Confirm reauthentication"
        body = f"<h2>Confirm reauthentication</h2><p>Enter the code: {link.otp}</p>"
    else:
        subject, intro, action = TEMPLATES[kind]
        intro = intro.format(
            site=html.escape(ctx.config.project.site_url), email=html.escape(email), new_email=html.escape(new_email)
        )
        body = (
            f'{intro}<p><a href="{html.escape(link.action_link)}">{action}</a></p>'
            f"<p>Alternatively, enter the code: {link.otp}</p>"
        )
    ctx.mailbox.deliver(Message(Address("Admin", ctx.config.sender), [Address("", to)], subject, body))
    log.info("email sent to the mail catcher", extra={"type": kind, "to": to})


def check_frequency(ctx: AuthContext, seconds_since_last: float | None) -> None:
    """`[auth.email] max_frequency`: the same address gets at most one email per that many seconds."""
    wait = ctx.config.project.max_frequency
    if seconds_since_last is not None and seconds_since_last < wait:
        remaining = max(int(wait - seconds_since_last + 0.999), 1)
        raise errors.ApiError(
            429,
            errors.OVER_EMAIL_SEND_RATE_LIMIT,
            f"For security purposes, you can only request this after {remaining} seconds.",
        )
    # `[auth.rate_limit] email_sent` (per hour) is lifted, as the CLI lifts it when Mailpit catches the mail.
