"""The devstack's GoTrue (Supabase Auth) stand-in, mounted by the gateway at /auth/v1.

It speaks the subset of GoTrue's HTTP API that supabase-py and supabase-js use — sign-up (email and
anonymous), password, refresh-token and PKCE grants, the emailed flows (magic link and OTP, recovery,
invites, email change, reauthentication) with /verify, TOTP MFA, the user, logout, settings, the JWKS
and the admin user API — over the real `auth` schema, so database triggers, RLS helpers and Studio see
what they would on Supabase. Emails go to the mail catcher (devstack/mail.py).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from devstack import tokens
from devstack.auth import account, admin, errors, flows, grants, mfa, verify
from devstack.auth.limits import Limiter
from devstack.auth.web import API_VERSION_HEADER, AuthConfig, AuthContext, json_response, wants_2024_errors
from devstack.db import Database
from devstack.mail import Mailbox
from devstack.project import AuthProject
from devstack.settings import DevstackSettings

__all__ = ["create_auth_app"]

log = logging.getLogger("devstack.auth")

Handler = Callable[[Request, AuthContext], Awaitable[Response]]


def _settings_body(project: AuthProject) -> dict[str, object]:
    """GET /settings as GoTrue answers it for the project's config.toml."""
    providers = [
        "anonymous_users",
        "apple",
        "azure",
        "bitbucket",
        "discord",
        "facebook",
        "figma",
        "fly",
        "github",
        "gitlab",
        "google",
        "keycloak",
        "kakao",
        "linkedin",
        "linkedin_oidc",
        "nextcloud",
        "notion",
        "spotify",
        "slack",
        "slack_oidc",
        "workos",
        "twitch",
        "twitter",
        "email",
        "phone",
        "zoom",
    ]
    return {
        "external": {
            name: name == "email" or (name == "anonymous_users" and project.enable_anonymous_sign_ins)
            for name in providers
        },
        "disable_signup": not project.enable_signup,
        "mailer_autoconfirm": not project.enable_confirmations,
        "phone_autoconfirm": False,
        "sms_provider": "twilio",
        "saml_enabled": False,
    }


async def _settings(_: Request, ctx: AuthContext) -> Response:
    return json_response(_settings_body(ctx.config.project))


async def _jwks(_: Request, __: AuthContext) -> Response:
    """The public signing keys, which supabase-js `getClaims()` verifies user tokens with."""
    return json_response(tokens.jwks(), headers={"Cache-Control": "public, max-age=600"})


async def _health(_: Request, __: AuthContext) -> Response:
    return json_response(
        {"version": "devstack", "name": "GoTrue", "description": "GoTrue is a user registration and authentication API"}
    )


def _endpoint(ctx: AuthContext, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Run a handler, turning AuthErrors into GoTrue's error bodies and anything else into a logged 500."""

    async def run(request: Request) -> Response:
        versioned = wants_2024_errors(request)
        try:
            response = await handler(request, ctx)
        except errors.AuthError as exc:
            level = logging.ERROR if exc.status >= 500 else logging.INFO
            log.log(
                level,
                "request failed",
                extra={
                    "method": request.method,
                    "path": request.url.path,
                    "status": exc.status,
                    "code": exc.code,
                },
            )
            response = JSONResponse(exc.body(versioned), status_code=exc.status)
        except Exception:
            log.exception("unexpected failure", extra={"method": request.method, "path": request.url.path})
            failure = errors.internal(errors.UNEXPECTED_MESSAGE)
            response = JSONResponse(failure.body(versioned), status_code=500)
        # The clients read `code` as the error code only when the response names the API version.
        response.headers[API_VERSION_HEADER] = "2024-01-01"
        return response

    return run


def create_auth_app(
    db: Database, settings: DevstackSettings, project: AuthProject | None = None, mailbox: Mailbox | None = None
) -> Starlette:
    """The /auth/v1 ASGI app over `db`'s supabase_auth_admin pool, configured by config.toml's `[auth]`."""
    project = project or AuthProject()
    ctx = AuthContext(
        db=db,
        config=AuthConfig.from_settings(settings, project),
        mailbox=mailbox or Mailbox(),
        limiter=Limiter(project.rate_limit, enabled=settings.auth_rate_limits),
    )
    table: list[tuple[str, Handler, list[str]]] = [
        ("/health", _health, ["GET"]),
        ("/settings", _settings, ["GET"]),
        ("/.well-known/jwks.json", _jwks, ["GET"]),
        ("/signup", grants.signup, ["POST"]),
        ("/token", grants.token, ["POST"]),
        ("/user", account.get_user, ["GET"]),
        ("/user", account.update_user, ["PUT"]),
        ("/logout", account.logout, ["POST"]),
        ("/otp", flows.otp, ["POST"]),
        ("/magiclink", flows.otp, ["POST"]),
        ("/recover", flows.recover, ["POST"]),
        ("/resend", flows.resend, ["POST"]),
        ("/reauthenticate", flows.reauthenticate, ["GET"]),
        ("/invite", flows.invite, ["POST"]),
        ("/verify", verify.verify_get, ["GET"]),
        ("/verify", verify.verify_post, ["POST"]),
        ("/factors", mfa.enroll, ["POST"]),
        ("/factors/{factor_id}/challenge", mfa.challenge, ["POST"]),
        ("/factors/{factor_id}/verify", mfa.verify, ["POST"]),
        ("/factors/{factor_id}", mfa.unenroll, ["DELETE"]),
        ("/admin/generate_link", flows.generate_link, ["POST"]),
        ("/admin/users", admin.list_users, ["GET"]),
        ("/admin/users", admin.create_user, ["POST"]),
        ("/admin/users/{user_id}", admin.get_user, ["GET"]),
        ("/admin/users/{user_id}", admin.update_user, ["PUT"]),
        ("/admin/users/{user_id}", admin.delete_user, ["DELETE"]),
    ]
    routes = [Route(path, _endpoint(ctx, handler), methods=methods) for path, handler, methods in table]
    return Starlette(routes=routes)
