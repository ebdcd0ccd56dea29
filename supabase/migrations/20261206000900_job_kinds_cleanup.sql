-- =====================================================================================================
-- The job-kind contract takes over: jobs must name a registered kind, and the functions it replaces are
-- dropped.
--
-- Rule (docs/schema.md, "Versioned worker functions"): workers of release N run against the migrations
-- of releases N and N+1, so a worker function is dropped one release after the release that replaced
-- it. coachbase 0.2 is the first release; everything dropped here belongs to the pre-release
-- development line (claim_jobs_v1-v3 and the per-kind context and complete functions), whose workers
-- must be stopped before these migrations apply. Queued jobs wait in the table meanwhile: none is lost.
-- =====================================================================================================

alter table internal.jobs
  add constraint jobs_kind_fkey foreign key (kind) references internal.job_kinds (name) on update cascade;
create index jobs_kind_idx on internal.jobs (kind);
comment on column internal.jobs.kind is 'What to do: a registered kind (internal.job_kinds); workers claim the kinds they handle.';

-- -----------------------------------------------------------------------------------------------------
-- the worker functions that stay, restated on the generic lease helper
-- -----------------------------------------------------------------------------------------------------
create or replace function public.extend_job_lease_v1(p_job_id bigint, p_worker text, p_lease_seconds integer default 60)
  returns timestamptz
  language plpgsql
  set search_path = ''
as $$
declare
  new_lease timestamptz := now() + make_interval(secs => least(greatest(p_lease_seconds, 1), 3600));
begin
  perform internal.leased_job(p_job_id, p_worker);
  update internal.jobs set lease_until = new_lease, updated_at = now() where id = p_job_id;
  return new_lease;
end;
$$;

create or replace function public.fail_job_v1(
  p_job_id bigint,
  p_worker text,
  p_error text,
  p_retryable boolean default true,
  p_retry_after double precision default null
) returns internal.job_status
  language plpgsql
  set search_path = ''
as $$
declare
  job internal.jobs := internal.leased_job(p_job_id, p_worker);
  backoff double precision;
  next_status internal.job_status;
begin
  backoff := least(2.0 * power(2, greatest(job.attempts - 1, 0)), 300.0) * (0.75 + random() * 0.5);
  backoff := greatest(backoff, coalesce(p_retry_after, 0));
  next_status := case when p_retryable and job.attempts < job.max_attempts then 'failed' else 'dead' end;
  update internal.jobs
     set status = next_status,
         last_error = left(p_error, 2000),
         run_after = case when next_status = 'failed' then now() + make_interval(secs => backoff) else run_after end,
         lease_until = null,
         locked_by = null,
         updated_at = now(),
         finished_at = case when next_status = 'dead' then now() end
   where id = p_job_id;
  return next_status;
end;
$$;

create or replace function public.release_job_v1(p_job_id bigint, p_worker text) returns void
  language plpgsql
  set search_path = ''
as $$
begin
  perform internal.leased_job(p_job_id, p_worker);
  update internal.jobs
     set status = 'queued', attempts = greatest(attempts - 1, 0), lease_until = null, locked_by = null,
         updated_at = now()
   where id = p_job_id;
end;
$$;

-- Checkpoints of streaming replies, each item on its own; written standalone (it called
-- checkpoint_chat_reply_v1 for each item).
create or replace function public.checkpoint_chat_replies_v1(p_worker text, p_items jsonb)
  returns jsonb
  language plpgsql
  set search_path = ''
as $$
declare
  item jsonb;
  job internal.jobs;
  outcome jsonb := '{}';
begin
  if jsonb_typeof(coalesce(p_items, '[]')) <> 'array' then
    raise exception 'checkpoint_chat_replies_v1: p_items must be a JSON array' using errcode = '22023';
  end if;
  for item in select value from jsonb_array_elements(coalesce(p_items, '[]')) loop
    if jsonb_typeof(item) <> 'object' or jsonb_typeof(item -> 'job_id') <> 'number' then
      raise exception 'checkpoint_chat_replies_v1: each item needs a numeric "job_id": %', left(item::text, 200)
        using errcode = '22023';
    end if;
    begin
      job := internal.leased_job((item ->> 'job_id')::bigint, p_worker, 'chat_reply');
      if (job.payload ->> 'assistant_message_id') is distinct from (item ->> 'message_id') then
        raise exception 'job % does not write message %', job.id, item ->> 'message_id' using errcode = '22023';
      end if;
      update public.messages
         set content = left(item ->> 'content', 32000), status = 'streaming', error = null
       where id = (item ->> 'message_id')::uuid and role = 'assistant' and status <> 'complete';
      outcome := outcome || jsonb_build_object(item ->> 'job_id', null);
    exception when others then
      outcome := outcome || jsonb_build_object(item ->> 'job_id', jsonb_build_object('code', sqlstate, 'message', sqlerrm));
    end;
  end loop;
  -- A partial text is for catching up, and the final reply is written (durably) by the finish: a
  -- checkpoint lost in a crash of the server only means an older partial text. No flush to wait for.
  perform set_config('synchronous_commit', 'off', true);
  return outcome;
end;
$$;

-- -----------------------------------------------------------------------------------------------------
-- superseded: the claim chain, per-kind context and complete functions, their helpers
-- -----------------------------------------------------------------------------------------------------
drop function public.claim_jobs_v3(text, text[], integer, integer, jsonb);
drop function public.claim_jobs_v2(text, text[], integer, integer, bigint[]);
drop function public.claim_jobs_v1(text, text[], integer, integer);
drop function public.complete_chat_reply_v2(bigint, text, uuid, text, text, text, integer, integer, integer, integer, text, integer);
drop function public.complete_chat_reply_v1(bigint, text, uuid, text, text, text, integer, integer, integer, integer);
drop function public.checkpoint_chat_reply_v1(bigint, text, uuid, text);
drop function public.chat_reply_context_v1(bigint, text, integer);
drop function public.checkin_analysis_context_v1(bigint, text);
drop function public.complete_checkin_analysis_v1(bigint, text, text, jsonb, text, text, integer, integer, integer, integer);
drop function public.recommendations_context_v1(bigint, text);
drop function public.complete_recommendations_v1(bigint, text, jsonb, text, text, integer, integer, integer, integer);
drop function public.user_summary_context_v1(bigint, text, integer);
drop function public.complete_user_summary_v1(bigint, text, text, jsonb, text, text, integer, integer, integer, integer);
drop function public.conversation_summary_context_v1(bigint, text, integer, integer);
drop function public.complete_conversation_summary_v1(bigint, text, text, uuid, text, text, integer, integer, integer, integer);
drop function public.request_conversation_summary_v1(bigint, text);
drop function public.followup_context_v1(bigint, text);
drop function public.complete_followup_v1(bigint, text, uuid, text, text, text, integer, integer, integer, integer);
drop function public.complete_job_v1(bigint, text, jsonb);
drop function public.resolve_prompt_v1(text, uuid);
drop function public.category_guidelines_v1(uuid);
drop function public.settings_v1();
drop function internal.leased_reply(bigint, text, uuid);
drop function internal.leased_checkin(bigint, text, text);
drop function internal.leased_user_summary_job(bigint, text);
drop function internal.leased_conversation(bigint, text);
drop function internal.record_usage(internal.jobs, uuid, uuid, text, text, integer, integer, integer, integer);
drop function internal.assert_lease(bigint, text);
