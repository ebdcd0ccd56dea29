-- =====================================================================================================
-- Every model call reaches the usage ledger once, whether its job's attempt succeeds or not.
-- Until now a call was recorded only with what committed it: a job's finish, or a tool step. A call whose
-- attempt then failed was paid for and never counted: a tool step that did not commit (the turn is asked
-- of the model again), a structured output still invalid after its repair, a finish refused because the
-- lease was lost, a reply withheld for a safety response after it was generated. Now:
--   * each call carries the id its worker gave it (`call_id`), and the ledger holds a call once: a call sent
--     again (a request whose answer was lost, a failed attempt's calls after one of them committed) is
--     skipped;
--   * a worker whose attempt fails records the calls it made that are not in the ledger
--     (record_spent_calls_v1), and a finish carries the attempt's calls besides the output's own.
-- Such calls count toward the user's token and cost limits as any other: they were spent.
-- =====================================================================================================

alter table internal.ai_usage add column call_id uuid;
comment on column internal.ai_usage.call_id is
  'The id the worker gave the model call: the ledger holds each call once, however often it is sent. Null for '
  'calls recorded before 20261210000700 and by workers of the release before.';
create unique index ai_usage_call_id_key on internal.ai_usage (call_id);

-- One row of internal.ai_usage per model call in p_usage: [{call_id, model, prompt_version, input_tokens,
-- output_tokens, cache_read_tokens, cache_write_tokens}, ...]; a call already recorded is skipped.
create or replace function internal.record_model_calls(p_job internal.jobs, p_subject_id uuid, p_usage jsonb)
  returns void
  language plpgsql
  set search_path = ''
as $$
begin
  if jsonb_typeof(coalesce(p_usage, '[]')) <> 'array' then
    raise exception 'usage must be a JSON array of model calls' using errcode = '22023';
  end if;
  insert into internal.ai_usage (user_id, job_id, kind, subject_id, model, prompt_version, input_tokens,
                                 output_tokens, cache_read_tokens, cache_write_tokens, call_id)
  select (p_job.payload ->> 'user_id')::uuid, p_job.id, p_job.kind, p_subject_id,
         left(coalesce(c ->> 'model', '-'), 100), left(coalesce(c ->> 'prompt_version', '-'), 100),
         greatest(coalesce((c ->> 'input_tokens')::integer, 0), 0),
         greatest(coalesce((c ->> 'output_tokens')::integer, 0), 0),
         greatest(coalesce((c ->> 'cache_read_tokens')::integer, 0), 0),
         greatest(coalesce((c ->> 'cache_write_tokens')::integer, 0), 0),
         (c ->> 'call_id')::uuid
    from jsonb_array_elements(coalesce(p_usage, '[]')) as u(c)
  on conflict (call_id) do nothing;
end;
$$;
comment on function internal.record_model_calls(internal.jobs, uuid, jsonb) is
  'Record each model call of a job in internal.ai_usage (one row per call; a call_id already recorded is skipped).';

-- The calls of a job's attempt that failed (or lost its lease): no lease is needed, since the calls were
-- made and paid whoever holds the job now. Each needs its call_id, so that sending them again records
-- nothing twice. Returns how many were new.
create function public.record_spent_calls_v1(p_job_id bigint, p_usage jsonb) returns integer
  language plpgsql
  set search_path = ''
as $$
declare
  job internal.jobs;
  ids uuid[];
  before bigint;
begin
  select * into job from internal.jobs where id = p_job_id;
  if not found then
    raise exception 'job % does not exist', p_job_id using errcode = 'PT404';
  end if;
  if jsonb_typeof(p_usage) is distinct from 'array' or jsonb_array_length(p_usage) not between 1 and 100 then
    raise exception 'record_spent_calls_v1: usage must be an array of 1 to 100 model calls' using errcode = '22023';
  end if;
  if exists (select 1 from jsonb_array_elements(p_usage) c where c.value ->> 'call_id' is null) then
    raise exception 'record_spent_calls_v1: each model call needs its call_id' using errcode = '22023';
  end if;
  select array_agg((c.value ->> 'call_id')::uuid) into ids from jsonb_array_elements(p_usage) c;
  select count(*) into before from internal.ai_usage a where a.call_id = any(ids);
  perform internal.record_model_calls(job, null, p_usage);
  return (select count(*) from internal.ai_usage a where a.call_id = any(ids)) - before;
end;
$$;
comment on function public.record_spent_calls_v1(bigint, jsonb) is
  'Workers: record the model calls ({call_id, model, prompt_version, tokens...}) an attempt at job p_job_id made '
  'and did not commit (it failed, or lost its lease); a call already in the ledger is skipped. Returns how many '
  'were new. service_role only.';
revoke execute on function public.record_spent_calls_v1(bigint, jsonb) from public, anon, authenticated;
grant execute on function public.record_spent_calls_v1(bigint, jsonb) to service_role;
