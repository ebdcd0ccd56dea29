"""supabase-js against the Auth endpoint: runs tests/js/auth.test.mjs with Node against the stack."""

from __future__ import annotations

from tests.conftest import Stack
from tests.node import needs_node, run_script


@needs_node
def test_supabase_js_auth_flow(stack: Stack) -> None:
    env = {
        "SUPABASE_URL": stack.api_url,
        "SUPABASE_ANON_KEY": stack.anon_key,
        "SUPABASE_SERVICE_ROLE_KEY": stack.service_role_key,
    }
    run_script("auth.test.mjs", env)
