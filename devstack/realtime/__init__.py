"""Supabase Realtime for the devstack: Phoenix websocket, Postgres Changes from pgoutput, Broadcast."""

from __future__ import annotations

from devstack.realtime.app import Realtime, create_realtime_app

__all__ = ["Realtime", "create_realtime_app"]
