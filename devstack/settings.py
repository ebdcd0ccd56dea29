"""Settings of the local stack: the Supabase CLI's ports, JWT secret and demo keys by default."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

# The Supabase CLI's local defaults (`supabase start`): every frontend configured for the CLI
# works against the devstack unchanged. They are public demo values, never for production.
DEMO_JWT_SECRET = "super-secret-jwt-token-with-at-least-32-characters-long"
DEMO_ANON_KEY = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6ImFub24iLCJleHAi"
    "OjE5ODM4MTI5OTZ9.CRXP1A7WOeoJeXxjNni43kdQwgnWNReilDMblYTn_I0"
)
DEMO_SERVICE_ROLE_KEY = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6InNlcnZpY2Vfcm9s"
    "ZSIsImV4cCI6MTk4MzgxMjk5Nn0.EGIM96RAZx35lJzdJsyH-qQwv8Hdp7fsn3W0YpN81IU"
)
# Opaque key aliases of newer CLIs; the gateway turns them into the matching JWT.
DEMO_PUBLISHABLE_KEY = "sb_publishable_ACJWlzQHlZjBrEguHvfOxg_3BJgxAaH"
DEMO_SECRET_KEY = "sb_secret_N7UND0UgjKTVK-Uodkm0Hg_xSvEMPvz"

# Password of the platform's login roles (postgres, supabase_admin, authenticator, …), as in the CLI.
DEMO_DB_PASSWORD = "postgres"

REPO_ROOT = Path(__file__).resolve().parent.parent


class DevstackSettings(BaseSettings):
    """Where the local stack listens and which secrets it uses (env prefix `DEVSTACK_`)."""

    model_config = SettingsConfigDict(env_prefix="DEVSTACK_", extra="ignore")

    host: str = "127.0.0.1"
    api_port: int = 54321
    db_port: int = 54322
    data_dir: Path = REPO_ROOT / ".devstack"
    # Use an existing Postgres >= 15 instead of the embedded one (superuser URL; read as DATABASE_URL).
    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL")
    jwt_secret: SecretStr = SecretStr(DEMO_JWT_SECRET)
    anon_key: str = DEMO_ANON_KEY
    service_role_key: str = DEMO_SERVICE_ROLE_KEY
    publishable_key: str = DEMO_PUBLISHABLE_KEY
    secret_key: str = DEMO_SECRET_KEY
    db_password: SecretStr = SecretStr(DEMO_DB_PASSWORD)
    jwt_expiry: int = 3600  # seconds, as the CLI's auth.jwt_expiry
    refresh_token_reuse_interval: int = 10  # seconds
    minimum_password_length: int = 6
    max_body_bytes: int = 1_048_576
    # Connections (devstack/connections.py): read deadlines, and how many a client may hold half-sent.
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    max_connections: int = 4096
    max_pending_per_client: int = 128
    # The JSON a REST request's to-many embeds may build before it fails with 400 (devstack/rest/guard.py).
    rest_max_json_bytes: int = 64 * 1_048_576
    supabase_dir: Path = REPO_ROOT / "supabase"
    mail_port: int = 54324  # the mail catcher's Mailpit API (0: not served)
    auth_rate_limits: bool = True  # `[auth.rate_limit]`, per IP; the test suite's shared stack turns them off
    auth_max_user_metadata_bytes: int = 8192  # user_metadata is copied into every access token
    realtime_idle_timeout_s: float = 60.0  # close sockets silent this long (Phoenix: 60 s)
    realtime_socket_queue_size: int = 10_000  # frames queued per socket before it is dropped as too slow
    realtime_max_record_bytes: int = 1_048_576  # larger rows get "Error 413: Payload Too Large"
    # Supabase's tenant defaults: max_channels_per_client 100, max_payload_size_in_kb 3000.
    realtime_max_channels_per_client: int = 100
    realtime_max_payload_bytes: int = 3000 * 1024
    # The longest the change feed waits for a streamed transaction to become visible before checking RLS
    # (devstack/realtime/rls.py). 0 checks at once, as before issue 15: changes may then be dropped.
    realtime_visibility_wait_s: float = 5.0
    # The time the change feed spends on one transaction before finishing it in the background, so that
    # a bulk write delays other changes by at most this (plus one chunk of checks); devstack/realtime/lanes.py.
    realtime_transaction_budget_s: float = 0.05
    realtime_backlog_max_changes: int = 200_000  # rows finished in the background at once; more are dropped

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.api_port}"

    @property
    def auth_issuer(self) -> str:
        return f"{self.api_url}/auth/v1"

    @property
    def mail_url(self) -> str:
        return f"http://{self.host}:{self.mail_port}"

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"
