"""GoTrue's error bodies: the 2024-01-01 shape, the initial shape, weak-password and OAuth-style errors.

GoTrue picks the body by the request's `X-Supabase-Api-Version`: from 2024-01-01 on it answers
`{"code": "<error code>", "message": …}`, before that `{"code": <status>, "error_code": …, "msg": …}`.
Both clients read `code` as the error code only when the response carries that header, else `error_code`.
"""

from __future__ import annotations

from typing import Any

# Error codes used here (supabase/auth internal/api/apierrors/errorcode.go).
ANONYMOUS_PROVIDER_DISABLED = "anonymous_provider_disabled"
BAD_CODE_VERIFIER = "bad_code_verifier"
BAD_JSON = "bad_json"
BAD_JWT = "bad_jwt"
CONFLICT = "conflict"
EMAIL_ADDRESS_INVALID = "email_address_invalid"
EMAIL_EXISTS = "email_exists"
EMAIL_NOT_CONFIRMED = "email_not_confirmed"
FLOW_STATE_EXPIRED = "flow_state_expired"
FLOW_STATE_NOT_FOUND = "flow_state_not_found"
INSUFFICIENT_AAL = "insufficient_aal"
INVALID_CREDENTIALS = "invalid_credentials"
MFA_CHALLENGE_EXPIRED = "mfa_challenge_expired"
MFA_FACTOR_NAME_CONFLICT = "mfa_factor_name_conflict"
MFA_FACTOR_NOT_FOUND = "mfa_factor_not_found"
MFA_TOTP_ENROLL_NOT_ENABLED = "mfa_totp_enroll_not_enabled"
MFA_TOTP_VERIFY_NOT_ENABLED = "mfa_totp_verify_not_enabled"
MFA_VERIFICATION_FAILED = "mfa_verification_failed"
NOT_ADMIN = "not_admin"
NO_AUTHORIZATION = "no_authorization"
OTP_DISABLED = "otp_disabled"
OTP_EXPIRED = "otp_expired"
OVER_EMAIL_SEND_RATE_LIMIT = "over_email_send_rate_limit"
OVER_REQUEST_RATE_LIMIT = "over_request_rate_limit"
PHONE_EXISTS = "phone_exists"
PHONE_PROVIDER_DISABLED = "phone_provider_disabled"
REAUTHENTICATION_NEEDED = "reauthentication_needed"
REAUTHENTICATION_NOT_VALID = "reauthentication_not_valid"
REFRESH_TOKEN_ALREADY_USED = "refresh_token_already_used"
REFRESH_TOKEN_NOT_FOUND = "refresh_token_not_found"
SAME_PASSWORD = "same_password"
SESSION_EXPIRED = "session_expired"
SESSION_NOT_FOUND = "session_not_found"
SIGNUP_DISABLED = "signup_disabled"
TOO_MANY_ENROLLED_MFA_FACTORS = "too_many_enrolled_mfa_factors"
UNEXPECTED_FAILURE = "unexpected_failure"
UNKNOWN = "unknown"
USER_ALREADY_EXISTS = "user_already_exists"
USER_BANNED = "user_banned"
USER_NOT_FOUND = "user_not_found"
VALIDATION_FAILED = "validation_failed"
WEAK_PASSWORD = "weak_password"

UNEXPECTED_MESSAGE = "Unexpected failure, please check server logs for more information"


class AuthError(Exception):
    """An error GoTrue answers with a JSON body; `body()` renders it for the request's API version."""

    status: int = 400
    code: str = UNKNOWN

    def body(self, versioned: bool) -> dict[str, Any]:
        raise NotImplementedError


class ApiError(AuthError):
    """GoTrue's HTTPError: an HTTP status, an error code and a human message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message

    def body(self, versioned: bool) -> dict[str, Any]:
        code = self.code or (UNEXPECTED_FAILURE if self.status == 500 else UNKNOWN)
        if versioned:
            return {"code": code, "message": self.message}
        return {"code": self.status, "error_code": code, "msg": self.message}


class WeakPasswordError(AuthError):
    """422 weak_password, with the reasons the clients expose as `error.reasons`."""

    status = 422
    code = WEAK_PASSWORD

    def __init__(self, message: str, reasons: list[str]) -> None:
        super().__init__(message)
        self.message = message
        self.reasons = reasons

    def body(self, versioned: bool) -> dict[str, Any]:
        payload = {"weak_password": {"reasons": self.reasons}}
        if versioned:
            return {"code": WEAK_PASSWORD, "message": self.message, **payload}
        return {"code": 422, "error_code": WEAK_PASSWORD, "msg": self.message, **payload}


class OAuthError(AuthError):
    """OAuth2-style error (`{"error", "error_description"}`), always 400, as GoTrue's OAuthError."""

    def __init__(self, error: str, description: str = "") -> None:
        super().__init__(f"{error}: {description}")
        self.code = error
        self.description = description

    def body(self, versioned: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"error": self.code}
        if self.description:
            out["error_description"] = self.description
        return out


def bad_request(code: str, message: str) -> ApiError:
    return ApiError(400, code, message)


def forbidden(code: str, message: str) -> ApiError:
    return ApiError(403, code, message)


def not_found(code: str, message: str) -> ApiError:
    return ApiError(404, code, message)


def unprocessable(code: str, message: str) -> ApiError:
    return ApiError(422, code, message)


def internal(message: str) -> ApiError:
    return ApiError(500, UNEXPECTED_FAILURE, message)
