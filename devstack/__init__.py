"""A local stand-in for the Supabase stack that the official clients use unchanged.

Embedded PostgreSQL with the Supabase platform bootstrap, plus an ASGI gateway on the CLI's ports
serving `/auth/v1` (GoTrue-compatible); REST and Realtime endpoints join it.
"""
