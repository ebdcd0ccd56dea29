"""The `phx_join` payload: channel config, the token to use, and the postgres_changes bindings.

The join reply echoes each binding as sent, in order, with a non-zero id (both clients match them by
position). The bindings only go live once every one of them names a table of publication
`supabase_realtime`; then the channel gets "Subscribed to PostgreSQL", otherwise a system error.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from devstack.realtime.authz import AuthError
from devstack.realtime.channel import EVENTS, Binding, Channel, Outbox, binding_id
from devstack.realtime.filters import FilterError, parse
from devstack.realtime.hub import Hub
from devstack.realtime.protocol import Frame
from devstack.settings import DevstackSettings

log = logging.getLogger("devstack.realtime")

PUBLICATION_TABLES = """
select count(*) from pg_publication_tables
where pubname = 'supabase_realtime'
  and ($1 = '*' or schemaname = $1) and ($2 = '*' or tablename = $2)
"""


class ReplayConfig(BaseModel):
    """`broadcast.replay`: private channels get the topic's stored messages since `since` (ms) first."""

    model_config = ConfigDict(extra="ignore")

    since: int = 0
    limit: int = Field(default=25, ge=1, le=25)


class BroadcastConfig(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    ack: bool = False
    self_: bool = Field(default=False, alias="self")
    replay: ReplayConfig | None = None


class PresenceConfig(BaseModel):
    model_config = ConfigDict(extra="ignore")

    key: str = ""
    enabled: bool = False


class JoinConfig(BaseModel):
    model_config = ConfigDict(extra="ignore")

    broadcast: BroadcastConfig = BroadcastConfig()
    presence: PresenceConfig = PresenceConfig()
    private: bool = False
    postgres_changes: list[dict[str, Any]] | None = None

    @field_validator("broadcast", mode="before")
    @classmethod
    def _default_broadcast(cls, value: Any) -> Any:
        # Clients send `"broadcast": null` when a channel is created with only `private` set; the real
        # server then uses the defaults (and keeps the rest of the config, `private` included).
        return BroadcastConfig() if value is None else value

    @field_validator("private", mode="before")
    @classmethod
    def _default_private(cls, value: Any) -> Any:
        return False if value is None else value


class JoinPayload(BaseModel):
    model_config = ConfigDict(extra="ignore")

    config: JoinConfig = JoinConfig()
    access_token: str | None = None


def _binding(params: dict[str, Any]) -> Binding:
    """Parse one binding as the real server does; raises FilterError for a bad filter or no target."""
    event = str(params.get("event", "*")).upper()
    schema, table = params.get("schema"), params.get("table")
    if schema is None and table is None:
        raise FilterError("No subscription params provided. Please provide at least a `schema` or `table`")
    select = params.get("select")
    if select is not None and not isinstance(select, list):
        raise FilterError('Error parsing `select` params: expected a list of column name strings, e.g. ["col1"]')
    columns = tuple(c for c in select or () if isinstance(c, str)) or None
    if columns and "*" in (schema, table):
        raise FilterError("Column selection is not supported for wildcard subscriptions")
    return Binding(
        id=binding_id(params),
        event=event if event in EVENTS else "*",
        schema=str(schema or "public"),
        table=str(table or "*"),
        conditions=parse(params.get("filter")),
        select=columns,
    )


@dataclass
class JoinRequest:
    topic: str
    join_ref: str | None
    token: str
    private: bool
    self_broadcast: bool
    ack_broadcast: bool
    params: list[dict[str, Any]]
    replay: ReplayConfig | None = None
    presence_key: str = ""
    presence_enabled: bool = False

    @property
    def sub_topic(self) -> str:
        return self.topic.removeprefix("realtime:")

    @property
    def changes(self) -> bool:
        return bool(self.params)

    @property
    def echo(self) -> list[dict[str, Any]]:
        return [{**p, "id": binding_id(p)} for p in self.params]

    @classmethod
    def parse(cls, frame: Frame, socket_token: str, settings: DevstackSettings) -> JoinRequest:
        if frame.topic == "realtime:" or not frame.topic.startswith("realtime:"):
            raise AuthError("TopicNameRequired", "You must provide a topic name")
        try:
            payload = JoinPayload.model_validate(frame.payload)
        except ValidationError as exc:
            log.warning("invalid join payload; using defaults", extra={"errors": exc.errors(include_url=False)})
            payload = JoinPayload()
        if payload.config.broadcast.replay is not None and not payload.config.private:
            raise AuthError("UnableToReplayMessages", "Replay is not allowed for public channels")
        token = payload.access_token
        if not token or token.startswith("sb_"):
            token = socket_token  # supabase-js may join before its token resolves; keys stand for the apikey
        config = payload.config
        return cls(
            topic=frame.topic,
            join_ref=frame.join_ref or frame.ref,
            token=token,
            private=config.private,
            self_broadcast=config.broadcast.self_,
            ack_broadcast=config.broadcast.ack,
            params=[p for p in (config.postgres_changes or []) if isinstance(p, dict)],
            replay=config.broadcast.replay,
            presence_key=config.presence.key or str(uuid.uuid4()),
            presence_enabled=config.presence.enabled,
        )

    def channel(self, outbox: Outbox, claims: dict[str, Any]) -> Channel:
        return Channel(
            outbox=outbox,
            topic=self.topic,
            join_ref=self.join_ref,
            private=self.private,
            self_broadcast=self.self_broadcast,
            ack_broadcast=self.ack_broadcast,
            token=self.token,
            claims=claims,
            presence_key=self.presence_key,
        )


async def subscribe_changes(pool: asyncpg.Pool, channel: Channel, request: JoinRequest, hub: Hub) -> None:
    """Validate every binding against the publication, then make them live and tell the client."""
    bindings: list[Binding] = []
    for params in request.params:
        try:
            binding = _binding(params)
        except FilterError as exc:
            channel.system("error", str(exc), "postgres_changes")
            return
        if not await pool.fetchval(PUBLICATION_TABLES, binding.schema, binding.table):
            message = (
                "Unable to subscribe to changes with given parameters. Please check Realtime is enabled "
                f"for the given connect parameters: [{binding.describe()}]"
            )
            channel.system("error", message, "postgres_changes")
            return
        bindings.append(binding)
    channel.bindings = bindings
    hub.watch_changes(channel)
    channel.system("ok", "Subscribed to PostgreSQL", "postgres_changes")


REPLAY_SQL = """
select id::text, event, payload::text from (
  select id, event, payload, inserted_at from realtime.messages
  where topic = $1 and extension = 'broadcast' and private is true
    and inserted_at >= (to_timestamp($2::bigint / 1000.0) at time zone 'utc') and inserted_at < now()
  order by inserted_at desc limit $3
) recent order by inserted_at
"""


async def replay(pool: asyncpg.Pool, channel: Channel, config: ReplayConfig) -> None:
    """Send the stored broadcasts of a private topic, oldest first, marked `replayed`."""
    for row in await pool.fetch(REPLAY_SQL, channel.sub_topic, config.since, config.limit):
        payload = json.loads(row["payload"]) if row["payload"] else {}
        meta = {"replayed": True, "id": row["id"]}
        channel.outbox.push_broadcast(channel.topic, row["event"] or "", payload, meta)
