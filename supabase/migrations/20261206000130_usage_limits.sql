-- =====================================================================================================
-- Usage limits: an append-only usage ledger with costs, plans with limits per metric and period,
-- per-user overrides, enforced in Postgres where a user asks for AI work.
--
--   ledger    internal.ai_usage, one row per model call (job, user, kind, model, tokens), now with its
--             cost in micro-dollars from internal.model_prices (operators edit the prices). Append-only:
--             no update, no delete (but a user's own deletion, which cascades).
--   plans     internal.plans (free, premium, ...: the features they include), internal.plan_limits
--             (plan, metric, period, limit), internal.user_plans (set by operators or the service role
--             through set_user_plan; never by the user), internal.user_limit_overrides.
--             metrics: messages (chat messages sent), ai_jobs (AI work a user asked for: messages,
--             completed check-ins, ...), tokens (input + output of every model call for the user),
--             cost_micros. periods: day and month, in the user's time zone (profiles.timezone).
--   enforced  when a job is queued (in the transaction of the row that asks for it): a kind registered
--             `metered` reserves one ai_job (and one of its `ask_metric`, e.g. messages) in the user's
--             counters, and is refused past a limit with SQLSTATE PT429 (HTTP 429 through the REST API),
--             naming the limit and when it resets; a kind with a `required_feature` the user's plan lacks
--             is refused with PT403 (HTTP 403). The whole insert fails: nothing is written, no job is
--             queued. Limits count rows: a POST of 100 messages is 100 asks. The counter row is locked by
--             the reservation, so concurrent asks at the boundary admit exactly the allowance.
--             Settled when the job ends: succeeded → used; dead → released (the user got nothing).
--             Tokens and cost are counted as each model call is recorded; a user past a token or cost
--             limit is refused their next ask.
--   reading   rpc('usage_status'): the signed-in user's plan and, per limit, used, limit and resets_at.
-- =====================================================================================================

-- -----------------------------------------------------------------------------------------------------
-- prices, and the ledger's cost
-- -----------------------------------------------------------------------------------------------------
create table internal.model_prices (
  model text primary key,
  input_usd_per_mtok numeric(12, 4) not null,
  output_usd_per_mtok numeric(12, 4) not null,
  cache_read_usd_per_mtok numeric(12, 4) not null default 0,
  cache_write_usd_per_mtok numeric(12, 4) not null default 0,
  note text not null default '',
  updated_at timestamptz not null default now(),
  constraint model_prices_not_negative check (least(input_usd_per_mtok, output_usd_per_mtok, cache_read_usd_per_mtok,
                                                    cache_write_usd_per_mtok) >= 0)
);
comment on table internal.model_prices is
  'Price per model, in US dollars per million tokens, as the provider lists it; the ledger''s cost of each '
  'model call is computed from it when the call is recorded (a model without a row costs 0: add it).';
comment on column internal.model_prices.model is 'The model name as the provider reports it (e.g. claude-sonnet-4-5).';
comment on column internal.model_prices.input_usd_per_mtok is 'USD per million input tokens.';
comment on column internal.model_prices.output_usd_per_mtok is 'USD per million output tokens.';
comment on column internal.model_prices.cache_read_usd_per_mtok is 'USD per million cache-read input tokens.';
comment on column internal.model_prices.cache_write_usd_per_mtok is 'USD per million cache-write input tokens.';
comment on column internal.model_prices.note is 'Where the price comes from, and when it was checked.';
comment on column internal.model_prices.updated_at is 'When it last changed.';
create trigger model_prices_set_updated_at before update on internal.model_prices
  for each row execute function internal.set_updated_at();

insert into internal.model_prices (model, input_usd_per_mtok, output_usd_per_mtok, cache_read_usd_per_mtok,
                                   cache_write_usd_per_mtok, note) values
  ('claude-sonnet-4-5', 3, 15, 0.30, 3.75, 'Anthropic list price; check before relying on it.'),
  ('claude-haiku-4-5', 1, 5, 0.10, 1.25, 'Anthropic list price; check before relying on it.'),
  ('claude-opus-4-1', 15, 75, 1.50, 18.75, 'Anthropic list price; check before relying on it.');

alter table internal.ai_usage add column cost_micros bigint not null default 0;
comment on column internal.ai_usage.cost_micros is
  'What the call cost, in micro-dollars (1,000,000 = 1 USD), from internal.model_prices when it was recorded.';
comment on table internal.ai_usage is
  'The usage ledger: one row per model call (job, user, kind, model, input / output / cache tokens, cost). '
  'Append-only. Limits (internal.usage_counters) and costs are read from it.';

create function internal.price_model_call() returns trigger
  language plpgsql
  security definer
  set search_path = ''
as $$
declare
  price internal.model_prices;
begin
  select * into price from internal.model_prices p where p.model = new.model;
  if found then
    -- USD per million tokens × tokens = micro-dollars.
    new.cost_micros := round(new.input_tokens * price.input_usd_per_mtok + new.output_tokens * price.output_usd_per_mtok
                             + new.cache_read_tokens * price.cache_read_usd_per_mtok
                             + new.cache_write_tokens * price.cache_write_usd_per_mtok);
  end if;
  return new;
end;
$$;
comment on function internal.price_model_call() is 'Trigger: a ledger row''s cost from internal.model_prices.';
create trigger ai_usage_price before insert on internal.ai_usage
  for each row execute function internal.price_model_call();

create function internal.ledger_is_append_only() returns trigger
  language plpgsql
  set search_path = ''
as $$
begin
  if tg_op = 'DELETE' and not exists (select 1 from auth.users u where u.id = old.user_id) then
    return old;  -- the user's own deletion cascading
  end if;
  raise exception 'internal.ai_usage is append-only: % is not allowed', lower(tg_op)
    using errcode = 'insufficient_privilege', hint = 'Record a correcting row instead.';
end;
$$;
comment on function internal.ledger_is_append_only() is 'Trigger: the usage ledger is never updated or deleted from.';
create trigger ai_usage_append_only before update or delete on internal.ai_usage
  for each row execute function internal.ledger_is_append_only();
revoke update, delete, truncate on table internal.ai_usage from service_role;

-- -----------------------------------------------------------------------------------------------------
-- plans, limits, overrides
-- -----------------------------------------------------------------------------------------------------
create table internal.plans (
  name text primary key,
  description text not null default '',
  features text[] not null default '{}',
  is_default boolean not null default false,
  created_at timestamptz not null default now(),
  constraint plans_name_format check (name ~ '^[a-z][a-z0-9_]{0,62}$')
);
comment on table internal.plans is
  'Plans users are on (e.g. free, premium): the features they include; their limits are internal.plan_limits. '
  'A user without a row in internal.user_plans is on the default plan.';
comment on column internal.plans.name is 'Plan name, e.g. free.';
comment on column internal.plans.description is 'What it is, for operators.';
comment on column internal.plans.features is
  'Features it includes; a job kind with a required_feature runs only for plans that list it (else HTTP 403).';
comment on column internal.plans.is_default is 'The plan of users without one (exactly one plan).';
comment on column internal.plans.created_at is 'When it was added.';
create unique index plans_one_default_idx on internal.plans (is_default) where is_default;

create table internal.plan_limits (
  plan text not null references internal.plans (name) on update cascade on delete cascade,
  metric text not null,
  period text not null,
  "limit" bigint not null,
  primary key (plan, metric, period),
  constraint plan_limits_metric check (metric in ('messages', 'ai_jobs', 'tokens', 'cost_micros')),
  constraint plan_limits_period check (period in ('day', 'month')),
  constraint plan_limits_not_negative check ("limit" >= 0)
);
comment on table internal.plan_limits is
  'A plan''s limit per metric and period. No row: that metric is not limited on that plan.';
comment on column internal.plan_limits.plan is 'The plan.';
comment on column internal.plan_limits.metric is
  'messages (chat messages sent), ai_jobs (AI work asked for: messages, completed check-ins, ...), tokens '
  '(input + output, all model calls for the user), cost_micros (micro-dollars).';
comment on column internal.plan_limits.period is 'day or month, in the user''s time zone.';
comment on column internal.plan_limits."limit" is 'How much per period.';

create table internal.user_plans (
  user_id uuid primary key references auth.users (id) on delete cascade,
  plan text not null references internal.plans (name) on update cascade,
  set_by text not null default 'operator',
  updated_at timestamptz not null default now()
);
comment on table internal.user_plans is
  'Each user''s plan, set by operators (Studio) or the service role (set_user_plan, e.g. from a billing '
  'webhook); never by the user. No row: the default plan.';
comment on column internal.user_plans.user_id is 'The user.';
comment on column internal.user_plans.plan is 'Their plan.';
comment on column internal.user_plans.set_by is 'Who set it (operator, a service''s name).';
comment on column internal.user_plans.updated_at is 'When it last changed.';
create index user_plans_plan_idx on internal.user_plans (plan);
create trigger user_plans_set_updated_at before update on internal.user_plans
  for each row execute function internal.set_updated_at();

create table internal.user_limit_overrides (
  user_id uuid not null references auth.users (id) on delete cascade,
  metric text not null,
  period text not null,
  "limit" bigint,
  note text not null default '',
  primary key (user_id, metric, period),
  constraint user_limit_overrides_metric check (metric in ('messages', 'ai_jobs', 'tokens', 'cost_micros')),
  constraint user_limit_overrides_period check (period in ('day', 'month')),
  constraint user_limit_overrides_not_negative check ("limit" >= 0)
);
comment on table internal.user_limit_overrides is
  'A user''s own limit for a metric and period, replacing their plan''s (null: not limited).';
comment on column internal.user_limit_overrides.user_id is 'The user.';
comment on column internal.user_limit_overrides.metric is 'As in internal.plan_limits.';
comment on column internal.user_limit_overrides.period is 'day or month.';
comment on column internal.user_limit_overrides."limit" is 'Their limit; null: unlimited.';
comment on column internal.user_limit_overrides.note is 'Why (support ticket, ...).';

insert into internal.plans (name, description, features, is_default) values
  ('free', 'Everyone starts here.', '{}', true),
  ('premium', 'Paying users: no limits, every feature.', '{premium}', false);
insert into internal.plan_limits (plan, metric, period, "limit") values
  ('free', 'messages', 'day', 50),
  ('free', 'ai_jobs', 'day', 100),
  ('free', 'tokens', 'month', 2000000),
  ('free', 'cost_micros', 'month', 5000000);

-- -----------------------------------------------------------------------------------------------------
-- counters and reservations
-- -----------------------------------------------------------------------------------------------------
create table internal.usage_counters (
  user_id uuid not null references auth.users (id) on delete cascade,
  period text not null,
  period_start date not null,
  messages integer not null default 0,
  ai_jobs integer not null default 0,
  tokens bigint not null default 0,
  cost_micros bigint not null default 0,
  reserved_messages integer not null default 0,
  reserved_ai_jobs integer not null default 0,
  primary key (user_id, period, period_start),
  constraint usage_counters_period check (period in ('day', 'month')),
  constraint usage_counters_not_negative check (least(messages, ai_jobs, tokens, cost_micros, reserved_messages,
                                                      reserved_ai_jobs) >= 0)
);
comment on table internal.usage_counters is
  'Per user and period (day, month; started at local midnight in the user''s time zone): what was used and '
  'what queued jobs have reserved. Kept in the transactions that queue, finish and record work.';
comment on column internal.usage_counters.user_id is 'The user.';
comment on column internal.usage_counters.period is 'day or month.';
comment on column internal.usage_counters.period_start is 'The local date the period starts on.';
comment on column internal.usage_counters.messages is 'Messages answered (jobs of ask_metric messages that succeeded).';
comment on column internal.usage_counters.ai_jobs is 'Metered jobs that succeeded.';
comment on column internal.usage_counters.tokens is 'Input + output tokens recorded in the ledger.';
comment on column internal.usage_counters.cost_micros is 'Cost recorded in the ledger, in micro-dollars.';
comment on column internal.usage_counters.reserved_messages is 'Messages queued and not yet settled.';
comment on column internal.usage_counters.reserved_ai_jobs is 'Metered jobs queued and not yet settled.';

create table internal.usage_reservations (
  job_id bigint primary key references internal.jobs (id) on delete cascade,
  user_id uuid not null,
  day date not null,
  messages smallint not null,
  ai_jobs smallint not null
);
comment on table internal.usage_reservations is
  'What each queued metered job reserved, and on which local day, until it is settled.';
comment on column internal.usage_reservations.job_id is 'The job.';
comment on column internal.usage_reservations.user_id is 'Its user.';
comment on column internal.usage_reservations.day is 'The local day it was reserved on (its month follows).';
comment on column internal.usage_reservations.messages is '1 for a message, else 0.';
comment on column internal.usage_reservations.ai_jobs is '1.';
create index usage_reservations_user_id_idx on internal.usage_reservations (user_id);

-- The job kinds' part: which are metered, what they count as, what plan feature they need.
alter table internal.job_kinds
  add column metered boolean not null default false,
  add column ask_metric text,
  add column required_feature text,
  add constraint job_kinds_ask_metric check (ask_metric in ('messages')),
  add constraint job_kinds_ask_metric_is_metered check (ask_metric is null or metered);
comment on column internal.job_kinds.metered is
  'Work a user asks for (a message, a completed check-in): counted as an ai_job against their limits when queued.';
comment on column internal.job_kinds.ask_metric is 'What else it counts as: messages (chat replies), or null.';
comment on column internal.job_kinds.required_feature is
  'A plan feature it needs (internal.plans.features); users whose plan lacks it are refused (HTTP 403).';

-- -----------------------------------------------------------------------------------------------------
-- helpers
-- -----------------------------------------------------------------------------------------------------
create function internal.user_time_zone(p_user_id uuid) returns text
  language sql
  stable
  set search_path = ''
as $$
  select coalesce((select p.timezone from public.profiles p where p.id = p_user_id), 'UTC')
$$;

-- The local date a period containing p_at starts on, in time zone p_tz.
create function internal.period_start(p_period text, p_tz text, p_at timestamptz default now()) returns date
  language sql
  stable
  set search_path = ''
as $$
  select case p_period when 'day' then (p_at at time zone p_tz)::date
                       else date_trunc('month', p_at at time zone p_tz)::date end
$$;

-- When a period that started on p_start (local date) resets: the next local midnight, as a timestamp.
create function internal.period_resets_at(p_period text, p_tz text, p_start date) returns timestamptz
  language sql
  stable
  set search_path = ''
as $$
  select ((p_start + case p_period when 'day' then interval '1 day' else interval '1 month' end)::timestamp)
         at time zone p_tz
$$;

-- The user's plan (the default one when they have none).
create function internal.user_plan(p_user_id uuid) returns internal.plans
  language sql
  stable
  set search_path = ''
as $$
  select p.* from internal.plans p
   where p.name = coalesce((select u.plan from internal.user_plans u where u.user_id = p_user_id),
                           (select d.name from internal.plans d where d.is_default))
$$;

-- The user's limits: the plan's, replaced by their overrides (a null override: unlimited, left out).
create function internal.user_limits(p_user_id uuid, p_plan text)
  returns table (metric text, period text, "limit" bigint)
  language sql
  stable
  set search_path = ''
as $$
  select coalesce(o.metric, l.metric), coalesce(o.period, l.period), coalesce(o."limit", l."limit")
    from (select * from internal.plan_limits where plan = p_plan) l
    full join (select * from internal.user_limit_overrides where user_id = p_user_id) o
      on o.metric = l.metric and o.period = l.period
   where (o.user_id is null and l."limit" is not null) or o."limit" is not null
$$;

create function internal.limit_reached_message(p_metric text, p_period text, p_limit bigint, p_plan text,
                                               p_resets_at timestamptz, p_tz text) returns text
  language sql
  stable
  set search_path = ''
as $$
  select format('%s %s limit reached (%s on plan %s); it resets at %s %s.',
                case p_period when 'day' then 'Daily' else 'Monthly' end,
                case p_metric when 'messages' then 'message' when 'ai_jobs' then 'AI request'
                              when 'tokens' then 'token' else 'cost' end,
                case p_metric when 'cost_micros' then '$' || to_char(p_limit / 1000000.0, 'FM999999990.00')
                              else p_limit::text end,
                p_plan, to_char(p_resets_at at time zone p_tz, 'YYYY-MM-DD HH24:MI'), p_tz)
$$;

-- -----------------------------------------------------------------------------------------------------
-- reserve when a job is queued, settle when it ends, count each model call
-- -----------------------------------------------------------------------------------------------------
create function internal.reserve_usage() returns trigger
  language plpgsql
  security definer
  set search_path = ''
as $$
declare
  kind internal.job_kinds;
  plan internal.plans;
  tz text;
  day date;
  is_message integer;
  counter internal.usage_counters;
  cap record;
  used bigint;
  resets timestamptz;
begin
  if new.user_id is null then
    return null;
  end if;
  select * into kind from internal.job_kinds k where k.name = new.kind;
  if not (kind.metered or kind.required_feature is not null) then
    return null;
  end if;
  plan := internal.user_plan(new.user_id);
  if kind.required_feature is not null and not (kind.required_feature = any(coalesce(plan.features, '{}'))) then
    raise exception '% is not included in plan %', replace(kind.name, '_', ' '), coalesce(plan.name, '(none)')
      using errcode = 'PT403',
            detail = jsonb_build_object('kind', kind.name, 'feature', kind.required_feature, 'plan', plan.name)::text,
            hint = 'It needs a plan with the feature ' || kind.required_feature || '.';
  end if;
  if not kind.metered then
    return null;
  end if;
  tz := internal.user_time_zone(new.user_id);
  day := internal.period_start('day', tz);
  is_message := case when kind.ask_metric = 'messages' then 1 else 0 end;
  insert into internal.usage_reservations (job_id, user_id, day, messages, ai_jobs)
  values (new.id, new.user_id, day, is_message, 1);

  for counter in
    insert into internal.usage_counters as c (user_id, period, period_start, reserved_messages, reserved_ai_jobs)
    values (new.user_id, 'day', day, is_message, 1),
           (new.user_id, 'month', date_trunc('month', day)::date, is_message, 1)
    on conflict (user_id, period, period_start) do update
       set reserved_messages = c.reserved_messages + excluded.reserved_messages,
           reserved_ai_jobs = c.reserved_ai_jobs + 1
    returning c.*
  loop
    for cap in select * from internal.user_limits(new.user_id, plan.name) l where l.period = counter.period loop
      used := case cap.metric
        when 'messages' then case when is_message = 1 then counter.messages + counter.reserved_messages end
        when 'ai_jobs' then counter.ai_jobs + counter.reserved_ai_jobs
        when 'tokens' then counter.tokens + 1         -- already at the limit: refuse the next ask
        when 'cost_micros' then counter.cost_micros + 1
      end;
      if used > cap."limit" then
        resets := internal.period_resets_at(counter.period, tz, counter.period_start);
        raise exception '%', internal.limit_reached_message(cap.metric, counter.period, cap."limit", plan.name, resets, tz)
          using errcode = 'PT429',
                detail = jsonb_build_object('metric', cap.metric, 'period', counter.period, 'limit', cap."limit",
                                            'plan', plan.name, 'resets_at', resets)::text,
                hint = 'Wait until it resets, or move to a plan with a higher limit.';
      end if;
    end loop;
  end loop;
  return null;
end;
$$;
comment on function internal.reserve_usage() is
  'Trigger on a new job: refuse a kind the user''s plan lacks (PT403); for a metered kind, reserve one ask in '
  'the day and month counters and refuse it past a limit (PT429). The caller''s whole statement fails.';
create trigger jobs_reserve_usage after insert on internal.jobs
  for each row execute function internal.reserve_usage();

create function internal.settle_usage() returns trigger
  language plpgsql
  security definer
  set search_path = ''
as $$
declare
  held internal.usage_reservations;
  done integer := case when new.status = 'succeeded' then 1 else 0 end;
begin
  delete from internal.usage_reservations r where r.job_id = new.id returning * into held;
  if not found then
    return null;
  end if;
  update internal.usage_counters c
     set reserved_messages = c.reserved_messages - held.messages,
         reserved_ai_jobs = c.reserved_ai_jobs - held.ai_jobs,
         messages = c.messages + held.messages * done,
         ai_jobs = c.ai_jobs + held.ai_jobs * done
   where c.user_id = held.user_id
     and ((c.period = 'day' and c.period_start = held.day)
          or (c.period = 'month' and c.period_start = date_trunc('month', held.day)::date));
  return null;
end;
$$;
comment on function internal.settle_usage() is
  'Trigger on a job that ends: its reservation becomes usage (succeeded) or is released (dead).';
create trigger jobs_settle_usage after update of status on internal.jobs
  for each row when (new.status in ('succeeded', 'dead') and old.status is distinct from new.status)
  execute function internal.settle_usage();

create function internal.count_model_call() returns trigger
  language plpgsql
  security definer
  set search_path = ''
as $$
declare
  day date;
begin
  if new.user_id is null then
    return null;
  end if;
  day := internal.period_start('day', internal.user_time_zone(new.user_id), new.created_at);
  insert into internal.usage_counters as c (user_id, period, period_start, tokens, cost_micros)
  values (new.user_id, 'day', day, new.input_tokens + new.output_tokens, new.cost_micros),
         (new.user_id, 'month', date_trunc('month', day)::date, new.input_tokens + new.output_tokens, new.cost_micros)
  on conflict (user_id, period, period_start) do update
     set tokens = c.tokens + excluded.tokens, cost_micros = c.cost_micros + excluded.cost_micros;
  return null;
end;
$$;
comment on function internal.count_model_call() is 'Trigger: each ledger row adds its tokens and cost to the user''s counters.';
create trigger ai_usage_count after insert on internal.ai_usage
  for each row execute function internal.count_model_call();

-- -----------------------------------------------------------------------------------------------------
-- what users and services call
-- -----------------------------------------------------------------------------------------------------
create function public.usage_status() returns jsonb
  language plpgsql
  stable
  security definer
  set search_path = ''
as $$
declare
  me uuid := auth.uid();
  plan internal.plans;
  tz text;
begin
  if me is null then
    raise exception 'usage_status: sign in first' using errcode = '42501';
  end if;
  plan := internal.user_plan(me);
  tz := internal.user_time_zone(me);
  return jsonb_build_object(
    'plan', plan.name,
    'features', to_jsonb(coalesce(plan.features, '{}')),
    'time_zone', tz,
    'limits', coalesce((
      select jsonb_agg(jsonb_build_object(
               'metric', l.metric, 'period', l.period, 'limit', l."limit",
               'used', coalesce(case l.metric when 'messages' then c.messages + c.reserved_messages
                                              when 'ai_jobs' then c.ai_jobs + c.reserved_ai_jobs
                                              when 'tokens' then c.tokens else c.cost_micros end, 0),
               'resets_at', internal.period_resets_at(l.period, tz, internal.period_start(l.period, tz)))
             order by l.period, l.metric)
        from internal.user_limits(me, plan.name) l
        left join internal.usage_counters c
          on c.user_id = me and c.period = l.period and c.period_start = internal.period_start(l.period, tz)
    ), '[]'));
end;
$$;
comment on function public.usage_status() is
  'The signed-in user''s plan and, for each of their limits, used (including asks in progress), limit and '
  'resets_at (their next local midnight, or first of the month).';
revoke execute on function public.usage_status() from public, anon;
grant execute on function public.usage_status() to authenticated, service_role;

create function public.set_user_plan(p_user_id uuid, p_plan text, p_set_by text default 'service') returns void
  language sql
  security definer
  set search_path = ''
as $$
  insert into internal.user_plans (user_id, plan, set_by) values (p_user_id, p_plan, p_set_by)
  on conflict (user_id) do update set plan = excluded.plan, set_by = excluded.set_by
$$;
comment on function public.set_user_plan(uuid, text, text) is
  'Service role only (e.g. a billing webhook): put a user on a plan.';
revoke execute on function public.set_user_plan(uuid, text, text) from public, anon, authenticated;
grant execute on function public.set_user_plan(uuid, text, text) to service_role;

-- -----------------------------------------------------------------------------------------------------
-- privileges: operators (Studio) and the service role; no user reads or writes any of it directly
-- -----------------------------------------------------------------------------------------------------
alter table internal.model_prices enable row level security;
alter table internal.plans enable row level security;
alter table internal.plan_limits enable row level security;
alter table internal.user_plans enable row level security;
alter table internal.user_limit_overrides enable row level security;
alter table internal.usage_counters enable row level security;
alter table internal.usage_reservations enable row level security;
revoke all on table internal.model_prices, internal.plans, internal.plan_limits, internal.user_plans,
  internal.user_limit_overrides, internal.usage_counters, internal.usage_reservations
  from public, anon, authenticated, service_role;
grant select on table internal.model_prices, internal.plans, internal.plan_limits, internal.usage_counters,
  internal.usage_reservations to service_role;
grant select, insert, update, delete on table internal.user_plans, internal.user_limit_overrides to service_role;

revoke execute on function internal.price_model_call(), internal.ledger_is_append_only(),
  internal.user_time_zone(uuid), internal.period_start(text, text, timestamptz),
  internal.period_resets_at(text, text, date), internal.user_plan(uuid), internal.user_limits(uuid, text),
  internal.limit_reached_message(text, text, bigint, text, timestamptz, text), internal.reserve_usage(),
  internal.settle_usage(), internal.count_model_call()
  from public, anon, authenticated;
