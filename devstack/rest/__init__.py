"""A PostgREST-compatible `/rest/v1` for the devstack gateway (security stays in Postgres)."""

from __future__ import annotations

from devstack.rest.app import RestApp, RestConfig, create_rest_app

__all__ = ["RestApp", "RestConfig", "create_rest_app"]
