-- =====================================================================================================
-- Agent tools: the coach acts (adds a plan item, moves a journey on) through tool calls, each exactly once.
--
-- A tool is a SQL function in the schema `tools` (not exposed through the API), registered in
-- internal.tools with the JSON Schema of its input, which is both what the model is offered and what
-- the input is validated against before the function runs. Operators choose the tools each coach may
-- use (internal.coach_tools); a tool not enabled for the coach is never offered and never run.
--
-- A chat reply runs a tool loop (workers/kinds/chat_reply.py): model → tool calls → tool results →
-- model, until the model answers in text or reply.max_tool_steps ends it. Exactly once, however workers
-- race or die:
--   1. record_reply_step_v1 stores the model's step (its text, internal.reply_steps) and its calls
--      (public.tool_calls, status pending, unique per reply and tool_use_id) before any of them runs;
--   2. run_tool_calls_v1 runs each pending call of the step: the tool's effect and its result commit in
--      one transaction; a call that has a result is never run again;
--   3. a worker that takes a reply over gets the stored steps with the claim, runs only the calls that
--      have no result, and sends the model every call with its result (never one without).
-- A tool runs as the conversation's user: `request.jwt.claims` and the role `authenticated` are set for
-- its call, so Row Level Security (and every helper the policies use) decides what it may touch, as it
-- would for the user's own request. Another user's id is simply not found. Invalid input, a refusal or
-- a failed check become an `is_error` result with the reason, so the model can correct itself; the
-- call's partial effects are rolled back.
-- The app sees what the coach did: tool_calls rows (owner only, in the Realtime publication) and
-- `tool_call` / `tool_result` Broadcast events on conversation:<id> beside the `delta`s.
-- =====================================================================================================

create schema if not exists tools;
comment on schema tools is
  'Agent tools: functions tools.<name>(ctx jsonb, input jsonb) → {result, changes}, run for the conversation''s '
  'user by run_tool_calls_v1 (role authenticated, the user''s claims). Not exposed through the API.';
revoke all on schema tools from public, anon;
grant usage on schema tools to authenticated, service_role;
alter default privileges for role postgres in schema tools revoke execute on functions from public, anon;

-- -----------------------------------------------------------------------------------------------------
-- JSON Schema validation (the subset tools use): type (incl. integer and type lists), properties,
-- required, additionalProperties: false, enum, const, minLength, maxLength, pattern, format (uuid, date,
-- time, date-time), minimum, maximum, items, minItems, maxItems, uniqueItems. Returns the problems,
-- each naming where ("$.title: ..."); an empty array when the value is valid.
-- -----------------------------------------------------------------------------------------------------
create function internal.json_schema_errors(p_schema jsonb, p_value jsonb, p_path text default '$')
  returns text[]
  language plpgsql
  immutable
  set search_path = ''
as $$
declare
  problems text[] := '{}';
  kind text := jsonb_typeof(p_value);
  allowed jsonb := p_schema -> 'type';
  key text;
  sub jsonb;
  text_value text;
  i integer;
begin
  if p_schema is null or jsonb_typeof(p_schema) <> 'object' then
    return problems;
  end if;
  if allowed is not null then
    if not exists (
      select 1 from jsonb_array_elements_text(case when jsonb_typeof(allowed) = 'array' then allowed
                                                   else jsonb_build_array(allowed) end) t(name)
       where t.name = kind
          or (t.name = 'integer' and kind = 'number' and (p_value #>> '{}')::numeric = trunc((p_value #>> '{}')::numeric))
    ) then
      return array[format('%s: must be %s, not %s', p_path,
                          case when jsonb_typeof(allowed) = 'array' then (select string_agg(x, ' or ') from jsonb_array_elements_text(allowed) x)
                               else allowed #>> '{}' end, coalesce(kind, 'missing'))];
    end if;
  end if;
  if p_schema ? 'enum' and not (p_schema -> 'enum') @> jsonb_build_array(p_value) then
    problems := problems || format('%s: must be one of %s', p_path, p_schema -> 'enum');
  end if;
  if p_schema ? 'const' and p_schema -> 'const' <> p_value then
    problems := problems || format('%s: must be %s', p_path, p_schema -> 'const');
  end if;
  if kind = 'string' then
    text_value := p_value #>> '{}';
    if (p_schema ->> 'minLength')::integer > char_length(text_value) then
      problems := problems || format('%s: must be at least %s characters', p_path, p_schema ->> 'minLength');
    end if;
    if (p_schema ->> 'maxLength')::integer < char_length(text_value) then
      problems := problems || format('%s: must be at most %s characters', p_path, p_schema ->> 'maxLength');
    end if;
    if p_schema ? 'pattern' and text_value !~ (p_schema ->> 'pattern') then
      problems := problems || format('%s: must match %s', p_path, p_schema ->> 'pattern');
    end if;
    if p_schema ->> 'format' = 'uuid'
       and text_value !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
      problems := problems || format('%s: must be a UUID', p_path);
    elsif p_schema ->> 'format' in ('date', 'time', 'date-time') then
      begin
        case p_schema ->> 'format'
          when 'date' then
            if text_value !~ '^\d{4}-\d{2}-\d{2}$' then raise exception 'bad'; end if;
            perform text_value::date;
          when 'time' then
            if text_value !~ '^\d{2}:\d{2}(:\d{2})?$' then raise exception 'bad'; end if;
            perform text_value::time;
          else
            perform text_value::timestamptz;
        end case;
      exception when others then
        problems := problems || format('%s: must be a %s (%s)', p_path, p_schema ->> 'format',
                                       case p_schema ->> 'format' when 'date' then 'YYYY-MM-DD'
                                            when 'time' then 'HH:MM' else 'ISO 8601' end);
      end;
    end if;
  elsif kind = 'number' then
    if (p_schema ->> 'minimum')::numeric > (p_value #>> '{}')::numeric then
      problems := problems || format('%s: must be at least %s', p_path, p_schema ->> 'minimum');
    end if;
    if (p_schema ->> 'maximum')::numeric < (p_value #>> '{}')::numeric then
      problems := problems || format('%s: must be at most %s', p_path, p_schema ->> 'maximum');
    end if;
  elsif kind = 'object' then
    for key in select jsonb_array_elements_text(coalesce(p_schema -> 'required', '[]')) loop
      if not p_value ? key then
        problems := problems || format('%s.%s: is required', p_path, key);
      end if;
    end loop;
    for key, sub in select e.key, e.value from jsonb_each(p_value) e loop
      if p_schema -> 'properties' ? key then
        problems := problems || internal.json_schema_errors(p_schema -> 'properties' -> key, sub, p_path || '.' || key);
      elsif p_schema -> 'additionalProperties' = 'false'::jsonb then
        problems := problems || format('%s.%s: is not an allowed field', p_path, key);
      end if;
    end loop;
  elsif kind = 'array' then
    if (p_schema ->> 'minItems')::integer > jsonb_array_length(p_value) then
      problems := problems || format('%s: must have at least %s items', p_path, p_schema ->> 'minItems');
    end if;
    if (p_schema ->> 'maxItems')::integer < jsonb_array_length(p_value) then
      problems := problems || format('%s: must have at most %s items', p_path, p_schema ->> 'maxItems');
    end if;
    if coalesce((p_schema ->> 'uniqueItems')::boolean, false)
       and (select count(distinct e) from jsonb_array_elements(p_value) e) < jsonb_array_length(p_value) then
      problems := problems || format('%s: must not repeat items', p_path);
    end if;
    if p_schema ? 'items' then
      for i in 0 .. jsonb_array_length(p_value) - 1 loop
        problems := problems || internal.json_schema_errors(p_schema -> 'items', p_value -> i, p_path || '[' || i || ']');
      end loop;
    end if;
  end if;
  return problems;
end;
$$;
comment on function internal.json_schema_errors(jsonb, jsonb, text) is
  'Validate a JSON value against a JSON Schema (the subset tools use); the problems, each naming its path.';

-- -----------------------------------------------------------------------------------------------------
-- table: tools (the registry)
-- -----------------------------------------------------------------------------------------------------
create table internal.tools (
  name text primary key,
  description text not null,
  input_schema jsonb not null,
  function regprocedure not null,
  enabled boolean not null default true,
  created_at timestamptz not null default now(),
  constraint tools_name_format check (name ~ '^[a-z][a-z0-9_]{0,63}$'),
  constraint tools_description_1_to_2000_characters check (char_length(btrim(description)) between 1 and 2000),
  constraint tools_input_schema_is_an_object_schema
    check (jsonb_typeof(input_schema) = 'object' and input_schema ->> 'type' = 'object')
);
comment on table internal.tools is
  'Agent tools, each a function tools.<name>(ctx, input) that acts for the conversation''s user. Its '
  'input_schema is what the model sees and what the input is checked against. Enable a tool for a coach in '
  'internal.coach_tools.';
comment on column internal.tools.name is 'The name the model calls, e.g. add_plan_item.';
comment on column internal.tools.description is 'What it does and when to use it: the model reads this.';
comment on column internal.tools.input_schema is 'JSON Schema of its input (type object), shown to the model and enforced.';
comment on column internal.tools.function is 'tools.<name>(ctx jsonb, input jsonb) → {"result": …, "changes": [{table, id, action}]}.';
comment on column internal.tools.enabled is 'Off: offered to no coach and refused if called.';
comment on column internal.tools.created_at is 'When the tool was registered.';

alter table internal.tools enable row level security;
revoke all on table internal.tools from public, anon, authenticated, service_role;
grant select on table internal.tools to service_role;

-- -----------------------------------------------------------------------------------------------------
-- table: coach_tools (which coach may use which tool; operators edit it in Studio)
-- -----------------------------------------------------------------------------------------------------
create table internal.coach_tools (
  coach_id uuid not null references public.coaches (id) on delete cascade,
  tool_name text not null references internal.tools (name) on delete cascade on update cascade,
  created_at timestamptz not null default now(),
  primary key (coach_id, tool_name)
);
comment on table internal.coach_tools is
  'The tools each coach may use: a row enables one tool for one coach. A tool without a row for the '
  'conversation''s coach is never offered to the model.';
comment on column internal.coach_tools.coach_id is 'The coach.';
comment on column internal.coach_tools.tool_name is 'The tool (internal.tools).';
comment on column internal.coach_tools.created_at is 'When it was enabled.';
create index coach_tools_tool_name_idx on internal.coach_tools (tool_name);

alter table internal.coach_tools enable row level security;
revoke all on table internal.coach_tools from public, anon, authenticated, service_role;
grant select on table internal.coach_tools to service_role;

create view internal.coach_tool_catalogue
  with (security_invoker = true)
  as
select c.slug as coach, t.name as tool, t.enabled and ct.coach_id is not null as offered, t.enabled, t.description
  from public.coaches c
  cross join internal.tools t
  left join internal.coach_tools ct on ct.coach_id = c.id and ct.tool_name = t.name
 order by c.sort_order, t.name;
comment on view internal.coach_tool_catalogue is
  'Every coach and tool: whether the tool is offered to that coach (enabled and in internal.coach_tools).';
revoke all on internal.coach_tool_catalogue from public, anon, authenticated, service_role;
grant select on internal.coach_tool_catalogue to service_role;

-- -----------------------------------------------------------------------------------------------------
-- table: reply_steps (the model's steps of a tool-using reply, stored before their calls run)
-- -----------------------------------------------------------------------------------------------------
create table internal.reply_steps (
  message_id uuid not null references public.messages (id) on delete cascade,
  step smallint not null,
  text text not null default '',
  model text not null,
  prompt_version text not null,
  input_tokens integer not null default 0,
  output_tokens integer not null default 0,
  cache_read_tokens integer not null default 0,
  cache_write_tokens integer not null default 0,
  created_at timestamptz not null default now(),
  primary key (message_id, step),
  constraint reply_steps_step_between_1_and_50 check (step between 1 and 50),
  constraint reply_steps_text_at_most_32000_characters check (char_length(text) <= 32000)
);
comment on table internal.reply_steps is
  'The model turns of a reply that called tools, each stored (with its calls in public.tool_calls) before '
  'any call runs, so a worker that takes the reply over continues it instead of asking the model again.';
comment on column internal.reply_steps.message_id is 'The assistant message (the reply).';
comment on column internal.reply_steps.step is 'The model turn, 1, 2, ...';
comment on column internal.reply_steps.text is 'What the model wrote before its tool calls in that turn.';
comment on column internal.reply_steps.model is 'The model of that turn.';
comment on column internal.reply_steps.prompt_version is 'The prompt version of that turn.';
comment on column internal.reply_steps.input_tokens is 'Tokens of that model call (also in internal.ai_usage).';
comment on column internal.reply_steps.output_tokens is 'Tokens of that model call.';
comment on column internal.reply_steps.cache_read_tokens is 'Prompt-cache reads of that call.';
comment on column internal.reply_steps.cache_write_tokens is 'Prompt-cache writes of that call.';
comment on column internal.reply_steps.created_at is 'When the step was stored.';

alter table internal.reply_steps enable row level security;
revoke all on table internal.reply_steps from public, anon, authenticated, service_role;
grant select, insert on table internal.reply_steps to service_role;

-- -----------------------------------------------------------------------------------------------------
-- table: tool_calls (what the coach did, readable by the conversation's owner)
-- -----------------------------------------------------------------------------------------------------
create type public.tool_call_status as enum ('pending', 'succeeded', 'failed');
comment on type public.tool_call_status is
  'pending: stored, not yet run; succeeded: it ran and its effect is committed; failed: it was refused or its '
  'input was invalid (is_error, nothing changed).';

create table public.tool_calls (
  id uuid primary key default gen_random_uuid(),
  message_id uuid not null,
  conversation_id uuid not null,
  user_id uuid not null,
  step smallint not null,
  position smallint not null,
  tool_use_id text not null,
  name text not null,
  input jsonb not null,
  status public.tool_call_status not null default 'pending',
  result jsonb,
  is_error boolean not null default false,
  changes jsonb not null default '[]',
  created_at timestamptz not null default clock_timestamp(),
  completed_at timestamptz,
  constraint tool_calls_message_id_tool_use_id_key unique (message_id, tool_use_id),
  constraint tool_calls_message_id_step_position_key unique (message_id, step, position),
  constraint tool_calls_message_fkey foreign key (message_id, conversation_id)
    references public.messages (id, conversation_id) on delete cascade,
  constraint tool_calls_conversation_fkey foreign key (conversation_id, user_id)
    references public.conversations (id, user_id) on delete cascade,
  constraint tool_calls_step_between_1_and_50 check (step between 1 and 50),
  constraint tool_calls_position_between_1_and_64 check (position between 1 and 64),
  constraint tool_calls_tool_use_id_1_to_200_characters check (char_length(tool_use_id) between 1 and 200),
  constraint tool_calls_name_1_to_64_characters check (char_length(name) between 1 and 64),
  constraint tool_calls_input_is_an_object check (jsonb_typeof(input) = 'object'),
  constraint tool_calls_changes_is_an_array check (jsonb_typeof(changes) = 'array'),
  constraint tool_calls_result_when_done check ((status = 'pending') = (result is null))
);
comment on table public.tool_calls is
  'Tool calls the coach made while writing a reply, with their results: readable by the conversation''s '
  'owner (to show what the coach did), written by workers only. Unique per reply and tool_use_id, so a call '
  'runs once.';
comment on column public.tool_calls.id is 'Tool call id.';
comment on column public.tool_calls.message_id is 'The assistant message (the reply) that made the call.';
comment on column public.tool_calls.conversation_id is 'The conversation.';
comment on column public.tool_calls.user_id is 'The conversation''s owner: the user the tool acted for.';
comment on column public.tool_calls.step is 'The model turn of the reply that made it (1, 2, ...).';
comment on column public.tool_calls.position is 'Its place among the calls of that turn (parallel calls).';
comment on column public.tool_calls.tool_use_id is 'The model''s id of the call (unique within the reply).';
comment on column public.tool_calls.name is 'The tool called.';
comment on column public.tool_calls.input is 'The input the model gave.';
comment on column public.tool_calls.status is 'pending, succeeded or failed; see the type tool_call_status.';
comment on column public.tool_calls.result is 'What the tool returned (sent back to the model), or {"error": reason}.';
comment on column public.tool_calls.is_error is 'Whether the result is an error the model was told about.';
comment on column public.tool_calls.changes is 'What it changed: [{"table", "id", "action"}].';
comment on column public.tool_calls.created_at is 'When the call was stored.';
comment on column public.tool_calls.completed_at is 'When it ran.';

create index tool_calls_user_id_idx on public.tool_calls (user_id);
create index tool_calls_conversation_id_idx on public.tool_calls (conversation_id, created_at);

alter table public.tool_calls enable row level security;
create policy "Owners read the tool calls made in their conversations" on public.tool_calls
  for select to authenticated using (user_id = (select auth.uid()));

revoke all on table public.tool_calls from public, anon, authenticated, service_role;
grant select on table public.tool_calls to authenticated;
grant select, insert, update on table public.tool_calls to service_role;

alter publication supabase_realtime add table public.tool_calls;

-- -----------------------------------------------------------------------------------------------------
-- what a reply's context gets: the coach's tools and the steps stored so far
-- -----------------------------------------------------------------------------------------------------
create function internal.coach_tools_for_model(p_coach_id uuid) returns jsonb
  language plpgsql
  stable
  set search_path = ''
as $$
declare
  offered jsonb;
begin
  select coalesce(jsonb_agg(jsonb_build_object('name', t.name, 'description', t.description,
                                               'input_schema', t.input_schema) order by t.name), '[]'::jsonb)
    into offered
    from internal.coach_tools ct
    join internal.tools t on t.name = ct.tool_name and t.enabled
   where ct.coach_id = p_coach_id;
  return offered;
end;
$$;
comment on function internal.coach_tools_for_model(uuid) is
  'The tools offered to a coach''s model: [{name, description, input_schema}], enabled ones only.';

create function internal.stored_reply_steps(p_message_id uuid) returns jsonb
  language sql
  stable
  set search_path = ''
as $$
  select coalesce(jsonb_agg(jsonb_build_object(
           'step', s.step, 'text', s.text,
           'calls', (select coalesce(jsonb_agg(jsonb_build_object(
                              'id', c.id, 'tool_use_id', c.tool_use_id, 'name', c.name, 'input', c.input,
                              'status', c.status, 'result', c.result, 'is_error', c.is_error)
                            order by c.position), '[]'::jsonb)
                       from public.tool_calls c where c.message_id = s.message_id and c.step = s.step))
         order by s.step), '[]'::jsonb)
    from internal.reply_steps s
   where s.message_id = p_message_id
$$;
comment on function internal.stored_reply_steps(uuid) is
  'The steps of a reply stored so far, each with its calls and their results (null while pending).';

-- -----------------------------------------------------------------------------------------------------
-- worker functions (versioned; service_role only; refused without the lease)
-- -----------------------------------------------------------------------------------------------------

-- Store a model step that called tools, with its calls, before any runs.
--   p_step: {"step": 2, "text": "text of this turn", "content": "the reply's whole text so far",
--            "calls": [{"tool_use_id", "name", "input"}], "usage": {model, prompt_version, tokens}}
-- Returns the stored calls [{id, tool_use_id, name, input, status, result, is_error}]. Idempotent: a
-- step already stored is returned as it is (the calls of a retried request are not stored twice).
create function public.record_reply_step_v1(p_job_id bigint, p_worker text, p_step jsonb) returns jsonb
  language plpgsql
  set search_path = ''
as $$
declare
  job internal.jobs := internal.leased_job(p_job_id, p_worker, 'chat_reply');
  reply_id uuid := (job.payload ->> 'assistant_message_id')::uuid;
  reply public.messages;
  step_no integer := (p_step ->> 'step')::integer;
  usage jsonb := coalesce(p_step -> 'usage', '{}');
  call record;
begin
  if jsonb_typeof(p_step -> 'calls') <> 'array' or jsonb_array_length(p_step -> 'calls') not between 1 and 64 then
    raise exception 'record_reply_step_v1: calls must be an array of 1 to 64 tool calls' using errcode = '22023';
  end if;
  select * into reply from public.messages where id = reply_id for update;
  if not found then
    raise exception 'the reply of job % no longer exists', p_job_id using errcode = 'PT404';
  end if;
  if exists (select 1 from internal.reply_steps s where s.message_id = reply_id and s.step = step_no) then
    return internal.stored_reply_steps(reply_id) -> (step_no - 1) -> 'calls';
  end if;
  -- No tool acts for a message that is not cleared for coaching (internal.message_safety, 20261206000150).
  if not exists (select 1 from internal.message_safety s where s.message_id = reply.reply_to and s.cleared) then
    raise exception 'reply %: its message is not cleared for a coaching reply', reply_id
      using errcode = 'check_violation', constraint = 'messages_coaching_reply_needs_a_cleared_message';
  end if;
  if exists (select 1 from public.tool_calls c where c.message_id = reply_id and c.status = 'pending') then
    raise exception 'record_reply_step_v1: step % has calls that have not run', step_no - 1 using errcode = '22023';
  end if;
  insert into internal.reply_steps (message_id, step, text, model, prompt_version, input_tokens, output_tokens,
                                    cache_read_tokens, cache_write_tokens)
  values (reply_id, step_no, left(coalesce(p_step ->> 'text', ''), 32000),
          left(coalesce(usage ->> 'model', '-'), 100), left(coalesce(usage ->> 'prompt_version', '-'), 100),
          greatest(coalesce((usage ->> 'input_tokens')::integer, 0), 0),
          greatest(coalesce((usage ->> 'output_tokens')::integer, 0), 0),
          greatest(coalesce((usage ->> 'cache_read_tokens')::integer, 0), 0),
          greatest(coalesce((usage ->> 'cache_write_tokens')::integer, 0), 0));
  insert into public.tool_calls (message_id, conversation_id, user_id, step, position, tool_use_id, name, input)
  select reply_id, reply.conversation_id, reply.user_id, step_no, c.ord, c.v ->> 'tool_use_id', c.v ->> 'name',
         case when jsonb_typeof(c.v -> 'input') = 'object' then c.v -> 'input' else '{}' end
    from jsonb_array_elements(p_step -> 'calls') with ordinality as c(v, ord);
  perform internal.record_model_calls(job, reply_id, jsonb_build_array(usage));
  update public.messages
     set content = left(coalesce(p_step ->> 'content', content), 32000), status = 'streaming', error = null
   where id = reply_id and status <> 'complete';
  for call in select * from public.tool_calls c where c.message_id = reply_id and c.step = step_no order by c.position loop
    perform realtime.send(
      jsonb_build_object('message_id', reply_id, 'tool_call_id', call.id, 'tool_use_id', call.tool_use_id,
                         'step', call.step, 'name', call.name, 'input', call.input),
      'tool_call', 'conversation:' || reply.conversation_id, true);
  end loop;
  return internal.stored_reply_steps(reply_id) -> (step_no - 1) -> 'calls';
end;
$$;
comment on function public.record_reply_step_v1(bigint, text, jsonb) is
  'Workers (chat_reply): store a model step and its tool calls (pending) before any runs; broadcast tool_call '
  'events. Idempotent per step. Refused without the lease. service_role only.';

-- Run one stored call for the conversation's user; its effect and its result in the caller's transaction.
create function internal.run_tool_call(p_call public.tool_calls, p_coach_id uuid, p_context jsonb)
  returns public.tool_calls
  language plpgsql
  set search_path = ''
as $$
declare
  tool internal.tools;
  problems text[];
  outcome jsonb;
  answer jsonb;
  changed jsonb := '[]';
  failed boolean := false;
  prior_role text := current_setting('role');
  prior_claims text := coalesce(current_setting('request.jwt.claims', true), '');
  done public.tool_calls;
begin
  select t.* into tool from internal.tools t
   where t.name = p_call.name and t.enabled
     and exists (select 1 from internal.coach_tools ct where ct.coach_id = p_coach_id and ct.tool_name = t.name);
  if not found then
    answer := jsonb_build_object('error', format('The tool %s is not available to you.', p_call.name));
    failed := true;
  elsif p_call.input ? '_invalid_json' then
    answer := jsonb_build_object('error', 'The input was not a valid JSON object.');
    failed := true;
  else
    problems := internal.json_schema_errors(tool.input_schema, p_call.input);
    if cardinality(problems) > 0 then
      answer := jsonb_build_object('error', 'Invalid input: ' || array_to_string(problems, '; '));
      failed := true;
    else
      begin
        perform set_config('request.jwt.claims', jsonb_build_object(
          'sub', p_call.user_id, 'role', 'authenticated', 'aud', 'authenticated')::text, true);
        perform set_config('role', 'authenticated', true);
        execute format('select %s($1, $2)', tool.function::regproc) into outcome
          using p_context || jsonb_build_object('tool_call_id', p_call.id), p_call.input;
        perform set_config('role', prior_role, true);
        perform set_config('request.jwt.claims', prior_claims, true);
        answer := coalesce(outcome -> 'result', 'null'::jsonb);
        changed := case when jsonb_typeof(outcome -> 'changes') = 'array' then outcome -> 'changes' else '[]' end;
      exception when others then
        -- Its partial effects and the role switch are rolled back with the block.
        answer := jsonb_build_object('error', sqlerrm);
        failed := true;
      end;
    end if;
  end if;
  update public.tool_calls
     set status = case when failed then 'failed' else 'succeeded' end::public.tool_call_status,
         result = answer, is_error = failed, changes = changed,
         completed_at = now()
   where id = p_call.id
  returning * into done;
  return done;
end;
$$;
comment on function internal.run_tool_call(public.tool_calls, uuid, jsonb) is
  'Run a stored tool call for the conversation''s user (role authenticated, the user''s claims): check it is '
  'offered to the coach, validate its input against its schema, call it, store its result or error.';

-- Run the calls of a stored step that have no result yet, each exactly once.
-- Returns every call of the step [{id, tool_use_id, name, input, status, result, is_error}].
create function public.run_tool_calls_v1(p_job_id bigint, p_worker text, p_step integer) returns jsonb
  language plpgsql
  set search_path = ''
as $$
declare
  job internal.jobs := internal.leased_job(p_job_id, p_worker, 'chat_reply');
  reply_id uuid := (job.payload ->> 'assistant_message_id')::uuid;
  conversation public.conversations;
  context jsonb;
  call public.tool_calls;
begin
  select c.* into conversation from public.conversations c join public.messages m on m.conversation_id = c.id
   where m.id = reply_id;
  if not found then
    raise exception 'the reply of job % no longer exists', p_job_id using errcode = 'PT404';
  end if;
  context := jsonb_build_object(
    'job_id', job.id, 'user_id', conversation.user_id, 'conversation_id', conversation.id,
    'message_id', reply_id, 'coach_id', conversation.coach_id
  );
  for call in
    select * from public.tool_calls c where c.message_id = reply_id and c.step = p_step and c.status = 'pending'
     order by c.position for update
  loop
    call := internal.run_tool_call(call, conversation.coach_id, context);
    perform realtime.send(
      jsonb_build_object('message_id', reply_id, 'tool_call_id', call.id, 'tool_use_id', call.tool_use_id,
                         'name', call.name, 'is_error', call.is_error, 'result', call.result),
      'tool_result', 'conversation:' || conversation.id, true);
  end loop;
  return internal.stored_reply_steps(reply_id) -> (p_step - 1) -> 'calls';
end;
$$;
comment on function public.run_tool_calls_v1(bigint, text, integer) is
  'Workers (chat_reply): run the stored calls of a step that have no result (each effect with its result, '
  'once); broadcast tool_result events. Refused without the lease. service_role only.';

revoke execute on function internal.json_schema_errors(jsonb, jsonb, text),
  internal.coach_tools_for_model(uuid), internal.stored_reply_steps(uuid),
  internal.run_tool_call(public.tool_calls, uuid, jsonb),
  public.record_reply_step_v1(bigint, text, jsonb), public.run_tool_calls_v1(bigint, text, integer)
  from public, anon, authenticated;
grant execute on function internal.json_schema_errors(jsonb, jsonb, text),
  internal.coach_tools_for_model(uuid), internal.stored_reply_steps(uuid),
  internal.run_tool_call(public.tool_calls, uuid, jsonb),
  public.record_reply_step_v1(bigint, text, jsonb), public.run_tool_calls_v1(bigint, text, integer)
  to service_role;

insert into internal.settings (key, value, description) values
  ('reply.max_tool_steps', '6',
   'Model turns one reply may take with tools (each turn may call several tools); past it the reply ends '
   'with a note to the user.')
on conflict (key) do nothing;
