"""Worker settings from the environment: a Supabase URL, a service-role key and (optionally) an LLM key."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The Supabase CLI's public demo service-role key: fine against a local stack, never elsewhere.
DEMO_SERVICE_ROLE_KEY = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6InNlcnZpY2Vfcm9s"
    "ZSIsImV4cCI6MTk4MzgxMjk5Nn0.EGIM96RAZx35lJzdJsyH-qQwv8Hdp7fsn3W0YpN81IU"
)
DEMO_SECRET_KEY = "sb_secret_N7UND0UgjKTVK-Uodkm0Hg_xSvEMPvz"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "host.docker.internal", "kong"}

ProviderName = Literal["auto", "anthropic", "openai", "offline"]


class WorkerSettings(BaseSettings):
    """Everything a worker needs; nothing else is read from the environment."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", populate_by_name=True)

    supabase_url: str = Field(default="http://127.0.0.1:54321", validation_alias="SUPABASE_URL")
    service_role_key: SecretStr = Field(
        default=SecretStr(DEMO_SERVICE_ROLE_KEY), validation_alias="SUPABASE_SERVICE_ROLE_KEY"
    )
    llm_provider: ProviderName = Field(default="auto", validation_alias="COACHBASE_LLM_PROVIDER")
    anthropic_api_key: SecretStr | None = Field(default=None, validation_alias="ANTHROPIC_API_KEY")
    anthropic_base_url: str | None = Field(default=None, validation_alias="ANTHROPIC_BASE_URL")
    openai_base_url: str | None = Field(default=None, validation_alias="OPENAI_BASE_URL")
    openai_api_key: SecretStr | None = Field(default=None, validation_alias="OPENAI_API_KEY")
    # Model per job kind; a prompt template's own model wins when set.
    chat_model: str = Field(default="claude-sonnet-4-5", validation_alias="COACHBASE_CHAT_MODEL")
    analysis_model: str = Field(default="claude-haiku-4-5", validation_alias="COACHBASE_ANALYSIS_MODEL")
    llm_timeout_seconds: float = Field(default=120.0, gt=0, le=600, validation_alias="COACHBASE_LLM_TIMEOUT_SECONDS")
    # An OpenAI-compatible embeddings API (POST {url}/embeddings), used by models whose provider is `openai`
    # (knowledge.embedding_model); OPENAI_BASE_URL / OPENAI_API_KEY when these are not set.
    embeddings_base_url: str | None = Field(default=None, validation_alias="COACHBASE_EMBEDDINGS_BASE_URL")
    embeddings_api_key: SecretStr | None = Field(default=None, validation_alias="COACHBASE_EMBEDDINGS_API_KEY")

    worker_id: str | None = Field(default=None, validation_alias="COACHBASE_WORKER_ID")
    concurrency: int = Field(default=16, ge=1, le=512, validation_alias="COACHBASE_CONCURRENCY")
    lease_seconds: int = Field(default=60, ge=5, le=3600, validation_alias="COACHBASE_LEASE_SECONDS")
    sweep_seconds: float = Field(default=5.0, gt=0, validation_alias="COACHBASE_SWEEP_SECONDS")
    # How often a worker deletes finished jobs past their retention (jobs.keep_*_days); 0: never.
    purge_seconds: float = Field(default=300.0, ge=0, validation_alias="COACHBASE_PURGE_SECONDS")
    delta_interval_ms: int = Field(default=150, ge=20, le=2000, validation_alias="COACHBASE_DELTA_INTERVAL_MS")
    checkpoint_seconds: float = Field(default=1.0, gt=0, validation_alias="COACHBASE_CHECKPOINT_SECONDS")
    metrics_host: str = Field(default="127.0.0.1", validation_alias="COACHBASE_METRICS_HOST")
    metrics_port: int = Field(default=9464, ge=0, le=65535, validation_alias="COACHBASE_METRICS_PORT")
    log_format: Literal["json", "text"] = Field(default="json", validation_alias="COACHBASE_LOG_FORMAT")
    # A supervisor that starts workers as its children (the devstack) names itself: if it dies without
    # stopping them (kill -9, a crash), they stop as on SIGTERM instead of running on as orphans.
    parent_pid: int | None = Field(default=None, ge=1, validation_alias="COACHBASE_PARENT_PID")

    @property
    def embeddings_api(self) -> tuple[str | None, str | None]:
        """The OpenAI-compatible embeddings API's base URL and key, if one is configured."""
        url = self.embeddings_base_url or self.openai_base_url
        key = self.embeddings_api_key or (self.openai_api_key if not self.embeddings_base_url else None)
        return url, key.get_secret_value() if key else None

    @property
    def is_local(self) -> bool:
        return (urlsplit(self.supabase_url).hostname or "") in LOCAL_HOSTS

    @property
    def provider(self) -> Literal["anthropic", "openai", "offline"]:
        """The provider in use: `auto` picks Anthropic with a key, else an OpenAI-compatible URL, else offline."""
        if self.llm_provider != "auto":
            return self.llm_provider
        if self.anthropic_api_key is not None:
            return "anthropic"
        if self.openai_base_url:
            return "openai"
        return "offline"

    @model_validator(mode="after")
    def _refuse_unsafe(self) -> WorkerSettings:
        key = self.service_role_key.get_secret_value()
        if not self.is_local and key in (DEMO_SERVICE_ROLE_KEY, DEMO_SECRET_KEY):
            raise ValueError(
                f"SUPABASE_SERVICE_ROLE_KEY is the public demo key but SUPABASE_URL ({self.supabase_url}) is not "
                "local: set the project's service-role key"
            )
        if self.llm_provider == "anthropic" and self.anthropic_api_key is None:
            raise ValueError("COACHBASE_LLM_PROVIDER=anthropic needs ANTHROPIC_API_KEY")
        if self.llm_provider == "openai" and not self.openai_base_url:
            raise ValueError("COACHBASE_LLM_PROVIDER=openai needs OPENAI_BASE_URL (e.g. http://127.0.0.1:11434/v1)")
        return self
