-- =====================================================================================================
-- Fewer round trips per chat reply. Every worker request goes through the API gateway, and under load
-- their count, not the SQL, is what a reply costs (bench/pipeline.py). Two versioned functions:
--
--   claim_jobs_v2          claims like claim_jobs_v1 and, for each chat_reply job, returns the reply's
--                          context (chat_reply_context_v1) with it: no second request before the model.
--                          It also completes the result-less jobs the worker finished since its last
--                          claim (one commit for a batch); a claim without them does not wait for the
--                          WAL flush (a lost claim is just claimed again).
--   complete_chat_reply_v2 completes like complete_chat_reply_v1, then broadcasts the reply's last delta
--                          and `done` from the database (realtime.send) in the same transaction: they go
--                          out only if the row is complete, in order, without two more HTTP requests.
--
-- v1 stays for workers still running the previous release.
-- =====================================================================================================

create function public.claim_jobs_v2(
  p_worker text,
  p_kinds text[],
  p_limit integer default 1,
  p_lease_seconds integer default 60,
  p_complete bigint[] default '{}'
) returns jsonb
  language plpgsql
  set search_path = ''
as $$
declare
  job internal.jobs;
  context jsonb;
  jobs jsonb := '[]';
  completed bigint[] := '{}';
begin
  if coalesce(cardinality(p_complete), 0) > 0 then
    -- Jobs this worker finished that carry no result (their handler wrote nothing of its own): completed
    -- here, one statement and one commit for all of them, like pgqueuer's batched acknowledgements.
    -- Ids whose lease the worker lost are left alone and left out of `completed`.
    with done as (
      update internal.jobs
         set status = 'succeeded', lease_until = null, updated_at = now(), finished_at = now()
       where id = any(p_complete) and status = 'running' and locked_by = p_worker
      returning id
    )
    select coalesce(array_agg(id), '{}') into completed from done;
  else
    -- A claim alone need not wait for its WAL flush: if the server crashes before it is on disk, the
    -- jobs are simply still due and get claimed again. One disk flush less before every reply starts.
    perform set_config('synchronous_commit', 'off', true);
  end if;
  for job in select * from public.claim_jobs_v1(p_worker, p_kinds, p_limit, p_lease_seconds) loop
    context := null;
    if job.kind = 'chat_reply' then
      begin
        context := public.chat_reply_context_v1(job.id, p_worker);
      exception when others then
        -- One job's broken context must not fail the claim of the others: the handler asks for it
        -- with chat_reply_context_v1 and fails that job with the error.
        raise warning 'claim_jobs_v2: no context for job %: %', job.id, sqlerrm;
      end;
    end if;
    jobs := jobs || jsonb_build_array(to_jsonb(job) || jsonb_build_object('context', context));
  end loop;
  return jsonb_build_object('jobs', jobs, 'completed', to_jsonb(completed));
end;
$$;
comment on function public.claim_jobs_v2 is
  'Workers: first complete p_complete (result-less jobs this worker finished), then claim_jobs_v1. Returns '
  '{"jobs": [each job with `context`: chat_reply_context_v1 for chat_reply, else null], "completed": [ids]}. '
  'service_role only.';

create function public.complete_chat_reply_v2(
  p_job_id bigint,
  p_worker text,
  p_message_id uuid,
  p_content text,
  p_model text,
  p_prompt_version text,
  p_input_tokens integer,
  p_output_tokens integer,
  p_cache_read_tokens integer default 0,
  p_cache_write_tokens integer default 0,
  p_tail text default '',
  p_tail_seq integer default null
) returns void
  language plpgsql
  set search_path = ''
as $$
declare
  reply public.messages := public.complete_chat_reply_v1(
    p_job_id, p_worker, p_message_id, p_content, p_model, p_prompt_version,
    p_input_tokens, p_output_tokens, p_cache_read_tokens, p_cache_write_tokens
  );
  topic text := 'conversation:' || reply.conversation_id;
begin
  if coalesce(p_tail, '') <> '' then
    if p_tail_seq is null or p_tail_seq < 1 then
      raise exception 'complete_chat_reply_v2: p_tail_seq must be >= 1 with a tail' using errcode = '22023';
    end if;
    perform realtime.send(
      jsonb_build_object('message_id', p_message_id, 'seq', p_tail_seq, 'text', p_tail), 'delta', topic, true
    );
  end if;
  perform realtime.send(jsonb_build_object('message_id', p_message_id), 'done', topic, true);
end;
$$;
comment on function public.complete_chat_reply_v2 is
  'Workers: complete_chat_reply_v1, then broadcast the last delta (p_tail, p_tail_seq) and done on '
  'conversation:<id> from the database, in the same transaction. Refused without the lease. service_role only.';

revoke execute on function public.claim_jobs_v2, public.complete_chat_reply_v2 from public, anon, authenticated;
grant execute on function public.claim_jobs_v2, public.complete_chat_reply_v2 to service_role;
