"""Pick the LLM provider from settings; offline when no key is configured, and say so."""

from __future__ import annotations

import logging

from shared.llm.anthropic import AnthropicProvider
from shared.llm.base import LLMProvider
from shared.llm.offline import OfflineProvider
from shared.llm.openai_compat import OpenAICompatibleProvider
from shared.settings import WorkerSettings

log = logging.getLogger("shared.llm")


def make_provider(settings: WorkerSettings) -> LLMProvider:
    kind = settings.provider
    if kind == "anthropic":
        assert settings.anthropic_api_key is not None
        log.info("LLM provider: Anthropic", extra={"base_url": settings.anthropic_base_url or "default"})
        return AnthropicProvider(
            settings.anthropic_api_key.get_secret_value(),
            base_url=settings.anthropic_base_url,
            timeout=settings.llm_timeout_seconds,
        )
    if kind == "openai":
        assert settings.openai_base_url is not None
        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else "local"
        log.info("LLM provider: OpenAI-compatible", extra={"base_url": settings.openai_base_url})
        return OpenAICompatibleProvider(settings.openai_base_url, key, timeout=settings.llm_timeout_seconds)
    log.warning(
        "OFFLINE MODE: no LLM key is configured (set ANTHROPIC_API_KEY or OPENAI_BASE_URL); replies are "
        "generated locally and stamped model='offline'"
    )
    return OfflineProvider()
