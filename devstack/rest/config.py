"""PostgREST's configuration: environment (`PGRST_…`) overridden by the in-database `pgrst.*` settings of
the `authenticator` role, plus the settings of the roles it impersonates.

Supabase enables aggregates and `explain` this way (`alter role authenticator set
pgrst.db_aggregates_enabled = 'true'; notify pgrst, 'reload config'`), and sets `statement_timeout` on
`anon` and `authenticated`. PostgREST reads both at start and on `NOTIFY pgrst, 'reload config'`: the
role's own `pgrst.*` settings, the ones for the current database winning; and, for every role
`authenticator` is a member of, its settings a request may set (`pg_settings.context = 'user'`, or with
SET privilege), applied to each request as that role with `set_config(…, true)`, its
`default_transaction_isolation` as the transaction's isolation level.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import asyncpg
from pydantic_settings import BaseSettings, SettingsConfigDict

log = logging.getLogger("devstack.rest")

DB_SETTINGS_SQL = """
select distinct on (key) substr(setting, 7, strpos(setting, '=') - 7) as key,
       substr(setting, strpos(setting, '=') + 1) as value
from (
  select s.setdatabase, unnest(s.setconfig) as setting
  from pg_catalog.pg_db_role_setting s
  where s.setrole = current_user::regrole::oid
    and s.setdatabase in (0, (select oid from pg_catalog.pg_database where datname = current_catalog))
) settings
where setting like 'pgrst.%'
order by key, setdatabase desc
"""
ROLE_SETTINGS_SQL = """
select r.rolname, kv.key, lower(kv.value) as value
from pg_catalog.pg_auth_members m
join pg_catalog.pg_roles r on r.oid = m.roleid
cross join lateral (
  select substr(setting, 1, strpos(setting, '=') - 1) as key, substr(setting, strpos(setting, '=') + 1) as value
  from unnest(r.rolconfig) setting
) kv
join pg_catalog.pg_settings ps on ps.name = kv.key
where m.member = current_user::regrole::oid
  and (ps.context = 'user' or pg_catalog.has_parameter_privilege(current_user::regrole::oid, ps.name, 'set')
       or kv.key = 'default_transaction_isolation')
order by r.rolname, kv.key
"""
_ISOLATION = {"read committed": "", "repeatable read": "repeatable read", "serializable": "serializable"}


class RestConfig(BaseSettings):
    """PostgREST's settings the devstack honours (env `PGRST_…`, as PostgREST reads them)."""

    model_config = SettingsConfigDict(env_prefix="PGRST_", extra="ignore")

    db_schemas: str = "public,graphql_public"
    db_extra_search_path: str = "public,extensions"
    db_anon_role: str = "anon"
    db_max_rows: int | None = 1000
    db_aggregates_enabled: bool = False
    db_plan_enabled: bool = False
    db_pool: int = 8  # two cores: a few busy connections beat many idle ones

    @property
    def schemas(self) -> list[str]:
        return [s.strip() for s in self.db_schemas.split(",") if s.strip()]

    @property
    def extra_search_path(self) -> list[str]:
        return [s.strip() for s in self.db_extra_search_path.split(",") if s.strip()]


# In-database settings PostgREST reloads, by their name after `pgrst.` (dashes and underscores alike).
_RELOADABLE = ("db_schemas", "db_extra_search_path", "db_anon_role", "db_max_rows")
_FLAGS = ("db_aggregates_enabled", "db_plan_enabled")


@dataclass(frozen=True)
class RoleSettings:
    """What a request as this role sets: `(name, value)` pairs and the transaction's isolation level."""

    settings: tuple[tuple[str, str], ...] = ()
    isolation: str = ""  # "", "repeatable read" or "serializable"


@dataclass(frozen=True)
class Effective:
    """The configuration requests use: environment, then the in-database settings over it."""

    config: RestConfig
    roles: dict[str, RoleSettings] = field(default_factory=dict)

    def role(self, name: str) -> RoleSettings:
        return self.roles.get(name, _NO_SETTINGS)


_NO_SETTINGS = RoleSettings()


async def load(conn: asyncpg.Connection, base: RestConfig) -> Effective:
    """Read the `pgrst.*` settings of the connected role (authenticator) and its members' settings."""
    updates: dict[str, object] = {}
    for row in await conn.fetch(DB_SETTINGS_SQL):
        key, value = row["key"].replace("-", "_"), row["value"]
        if key in _RELOADABLE:
            updates[key] = value if key != "db_max_rows" else (int(value) if value.strip().isdigit() else None)
        elif key in _FLAGS:
            updates[key] = value.strip().lower() in ("true", "on", "1", "yes")
    roles: dict[str, dict[str, str]] = {}
    for row in await conn.fetch(ROLE_SETTINGS_SQL):
        roles.setdefault(row["rolname"], {})[row["key"]] = row["value"]
    effective = Effective(
        base.model_copy(update=updates) if updates else base,
        {name: _role(values) for name, values in roles.items()},
    )
    log.info("config loaded", extra={"in_database": sorted(updates), "roles": sorted(roles)})
    return effective


def _role(values: dict[str, str]) -> RoleSettings:
    isolation = _ISOLATION.get(values.pop("default_transaction_isolation", "read committed"), "")
    return RoleSettings(tuple(sorted(values.items())), isolation)
