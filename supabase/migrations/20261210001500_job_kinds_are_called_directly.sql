-- =====================================================================================================
-- A kind's functions are called directly, through dispatchers the registry keeps current; and a dead job's
-- clean-up is the kind's third registered function, run by one trigger.
--
-- Until now the queue's core reached a kind's functions through a dynamic EXECUTE (finish_job, job_context),
-- which Postgres parses and plans again on every call, and each kind with something to clean up when its
-- job is given up had a trigger of its own on internal.jobs, whose WHEN clause every UPDATE statement of
-- the table prepared again (six of them: the kind's name was in each). On one connection draining the
-- queue (claims of 10), those were a quarter of Postgres's time a job: 170 → 135 µs with both gone.
--
-- Now internal.job_kinds also names a kind's on_dead_function, and internal.compile_job_kinds() writes
-- three dispatchers from the registry: internal.job_kind_context(job), internal.job_kind_finish(job,
-- output, usage) and internal.job_kind_on_dead(job), each a CASE on the job's kind that calls the kind's
-- function statically (PL/pgSQL keeps the plan of each call). A statement trigger on internal.job_kinds
-- rewrites them whenever a kind is registered, changed or removed, so the registry stays the one place a
-- kind is named: a kind's migration inserts its row as before (and may name an on_dead_function), and
-- nothing else changes for it. The six triggers become one, jobs_on_dead, and their functions become
-- internal.<kind>_on_dead(job) functions in the registry, bodies unchanged.
-- =====================================================================================================

-- -----------------------------------------------------------------------------------------------------
-- the registry names what a dead job leaves behind
-- -----------------------------------------------------------------------------------------------------
alter table internal.job_kinds add column on_dead_function regprocedure;
comment on column internal.job_kinds.on_dead_function is
  'internal.<kind>_on_dead(internal.jobs) → void: what a job of this kind leaves when it is given up (dead), '
  'e.g. its reply marked failed; run by the trigger jobs_on_dead in the transaction that makes it dead. '
  'Null: nothing.';

-- -----------------------------------------------------------------------------------------------------
-- the six clean-ups, as registered functions (bodies as in their triggers; security as it was)
-- -----------------------------------------------------------------------------------------------------

-- chat_reply (20261124000100): the assistant message becomes failed, with words fit for users (the
-- technical reason stays in internal.jobs.last_error).
create function internal.chat_reply_on_dead(p_job internal.jobs) returns void
  language plpgsql
  security definer
  set search_path = ''
as $$
begin
  update public.messages
     set status = 'failed',
         error = 'Sorry, your coach could not reply just now. Please send your message again in a moment.'
   where id = (p_job.payload ->> 'assistant_message_id')::uuid
     and status in ('pending', 'streaming');
end;
$$;
comment on function internal.chat_reply_on_dead(internal.jobs) is
  'A dead chat_reply job: its assistant message becomes failed with a message fit for users.';

-- safety_assessment (20261206000150): a message the classifier never assessed is decided by the rules
-- alone, so its reply is not held for ever.
create function internal.safety_assessment_on_dead(p_job internal.jobs) returns void
  language plpgsql
  security definer
  set search_path = ''
as $$
begin
  if not exists (select 1 from internal.message_safety s where s.message_id = (p_job.payload ->> 'message_id')::uuid) then
    perform internal.decide_message_safety((p_job.payload ->> 'message_id')::uuid);
  end if;
end;
$$;
comment on function internal.safety_assessment_on_dead(internal.jobs) is
  'A dead safety_assessment job: its message is decided without the classifier, unless it already was.';

-- child_invitation (20261207000100): the token leaves the job; the invitation says delivery failed.
create function internal.child_invitation_on_dead(p_job internal.jobs) returns void
  language plpgsql
  set search_path = ''
as $$
begin
  update internal.jobs set payload = payload - 'token' where id = p_job.id;
  update public.child_invitations
     set delivery = 'failed', delivery_error = left('The invitation email could not be sent: ' || coalesce(p_job.last_error, ''), 1000)
   where id = (p_job.payload ->> 'invitation_id')::uuid and accepted_at is null;
end;
$$;
comment on function internal.child_invitation_on_dead(internal.jobs) is
  'A dead child_invitation job: its token is removed from the payload and the invitation''s delivery is failed.';

-- document_analysis and video_analysis (20261207000300): the file says its analysis failed.
create function internal.document_analysis_on_dead(p_job internal.jobs) returns void
  language plpgsql
  set search_path = ''
as $$
begin
  update public.documents
     set status = 'error', error_message = 'The analysis could not be completed. Please try uploading the file again later.'
   where id = (p_job.payload ->> 'document_id')::uuid and status in ('uploaded', 'processing');
end;
$$;
comment on function internal.document_analysis_on_dead(internal.jobs) is
  'A dead document_analysis job: its document''s status becomes error, with a message fit for users.';

create function internal.video_analysis_on_dead(p_job internal.jobs) returns void
  language plpgsql
  set search_path = ''
as $$
begin
  update public.videos
     set status = 'error', error_message = 'The analysis could not be completed. Please try uploading the file again later.'
   where id = (p_job.payload ->> 'video_id')::uuid and status in ('uploaded', 'processing');
end;
$$;
comment on function internal.video_analysis_on_dead(internal.jobs) is
  'A dead video_analysis job: its video''s status becomes error, with a message fit for users.';

-- journey_report (20261207000600): the report says it could not be written.
create function internal.journey_report_on_dead(p_job internal.jobs) returns void
  language plpgsql
  set search_path = ''
as $$
begin
  update public.reports set status = 'error', error_message = 'The report could not be written. Please ask for it again later.'
   where id = (p_job.payload ->> 'report_id')::uuid and status in ('queued', 'generating');
end;
$$;
comment on function internal.journey_report_on_dead(internal.jobs) is
  'A dead journey_report job: its report''s status becomes error, with a message fit for users.';

-- note_transcription (20261208000400): the scan is failed with the reason.
create function internal.note_transcription_on_dead(p_job internal.jobs) returns void
  language plpgsql
  security definer
  set search_path = ''
as $$
begin
  update public.note_scans
     set status = 'failed', completed_at = now(),
         error = left('The photo could not be transcribed: ' || coalesce(p_job.last_error, 'unknown error'), 2000)
   where id = (p_job.payload ->> 'scan_id')::uuid and status = 'pending';
end;
$$;
comment on function internal.note_transcription_on_dead(internal.jobs) is
  'A dead note_transcription job: its scan becomes failed with the reason.';

drop trigger jobs_fail_dead_chat_reply on internal.jobs;
drop trigger jobs_decide_on_dead_assessment on internal.jobs;
drop trigger jobs_forget_dead_invitation_token on internal.jobs;
drop trigger jobs_fail_dead_child_file_analysis on internal.jobs;
drop trigger jobs_fail_dead_journey_report on internal.jobs;
drop trigger jobs_fail_dead_note_transcription on internal.jobs;
drop function internal.fail_dead_chat_reply(), internal.decide_on_dead_assessment(),
  internal.forget_dead_invitation_token(), internal.fail_dead_child_file_analysis(),
  internal.fail_dead_journey_report(), internal.fail_dead_note_transcription();

revoke execute on function internal.chat_reply_on_dead(internal.jobs), internal.safety_assessment_on_dead(internal.jobs),
  internal.child_invitation_on_dead(internal.jobs), internal.document_analysis_on_dead(internal.jobs),
  internal.video_analysis_on_dead(internal.jobs), internal.journey_report_on_dead(internal.jobs),
  internal.note_transcription_on_dead(internal.jobs)
  from public, anon, authenticated;
grant execute on function internal.chat_reply_on_dead(internal.jobs), internal.safety_assessment_on_dead(internal.jobs),
  internal.child_invitation_on_dead(internal.jobs), internal.document_analysis_on_dead(internal.jobs),
  internal.video_analysis_on_dead(internal.jobs), internal.journey_report_on_dead(internal.jobs),
  internal.note_transcription_on_dead(internal.jobs)
  to service_role;

-- -----------------------------------------------------------------------------------------------------
-- the dispatchers, written from the registry
-- -----------------------------------------------------------------------------------------------------
-- internal.job_kind_context(job) → jsonb, internal.job_kind_finish(job, output, usage) → jsonb and
-- internal.job_kind_on_dead(job): a CASE on job.kind with one static call a registered kind. An unknown
-- kind is refused (22023) by the first two; the third does nothing for a kind without an on_dead_function.
-- Security definer so that whoever may change the registry may rewrite them (they belong to the
-- migration role); concurrent changes of the registry take turns (an advisory lock), so the last to
-- commit writes from a registry that includes every earlier one.
create function internal.compile_job_kinds() returns void
  language plpgsql
  security definer
  set search_path = ''
as $$
declare
  contexts text := '';
  finishes text := '';
  on_deads text := '';
  kind record;
  dispatcher record;
begin
  perform pg_advisory_xact_lock(hashtext('internal.compile_job_kinds'));
  -- A function's name from the pg_proc row its OID names (null when it no longer exists).
  for kind in
    select k.name,
           (select p.oid::regproc::text from pg_proc p where p.oid = k.context_function) as context,
           (select p.oid::regproc::text from pg_proc p where p.oid = k.finish_function) as finish,
           (select p.oid::regproc::text from pg_proc p where p.oid = k.on_dead_function) as on_dead,
           k.on_dead_function is not null as cleans_up
      from internal.job_kinds k
     order by k.name
  loop
    if kind.context is null or kind.finish is null or (kind.cleans_up and kind.on_dead is null) then
      raise exception 'job kind %: a function it names no longer exists', kind.name
        using errcode = '42883', hint = 'Register the function again in internal.job_kinds.';
    end if;
    contexts := contexts || format(E'    when %L then return %s(p_job);\n', kind.name, kind.context);
    finishes := finishes || format(E'    when %L then return %s(p_job, p_output, p_usage);\n', kind.name, kind.finish);
    if kind.on_dead is not null then
      on_deads := on_deads || format(E'    when %L then perform %s(p_job);\n', kind.name, kind.on_dead);
    end if;
  end loop;

  for dispatcher in
    select * from (values
      ('job_kind_context', 'p_job internal.jobs', 'internal.jobs', 'jsonb', contexts,
       $e$raise exception 'job kind % is not registered', p_job.kind using errcode = '22023';$e$,
       'the job''s context from its kind''s context function (22023 for an unregistered kind)'),
      ('job_kind_finish', 'p_job internal.jobs, p_output jsonb, p_usage jsonb', 'internal.jobs, jsonb, jsonb', 'jsonb',
       finishes,
       $e$raise exception 'job % is of an unregistered kind %', p_job.id, p_job.kind using errcode = '22023';$e$,
       'the job''s result from its kind''s finish function (22023 for an unregistered kind)'),
      ('job_kind_on_dead', 'p_job internal.jobs', 'internal.jobs', 'void', on_deads,
       'null;',
       'runs the kind''s on_dead_function, if it has one')
    ) as d(name, parameters, types, returns, branches, otherwise, does)
  loop
    -- A CASE needs a WHEN: with no kind (or no clean-up) registered, one that never matches.
    execute format($f$
create or replace function internal.%s(%s) returns %s
  language plpgsql
  set search_path = ''
as $body$
begin
  case p_job.kind
%s    else
      %s
  end case;
end;
$body$
$f$, dispatcher.name, dispatcher.parameters, dispatcher.returns,
      coalesce(nullif(dispatcher.branches, ''), E'    when null then null;\n'), dispatcher.otherwise);
    execute format('comment on function internal.%s(%s) is %L', dispatcher.name, dispatcher.types,
                   'Written by internal.compile_job_kinds() from internal.job_kinds: ' || dispatcher.does
                   || '. Do not edit: change the registry.');
    execute format('revoke execute on function internal.%s(%s) from public, anon, authenticated', dispatcher.name,
                   dispatcher.types);
    execute format('grant execute on function internal.%s(%s) to service_role', dispatcher.name, dispatcher.types);
  end loop;
end;
$$;
comment on function internal.compile_job_kinds() is
  'Write the dispatchers internal.job_kind_context, job_kind_finish and job_kind_on_dead from '
  'internal.job_kinds (run by the trigger job_kinds_compile whenever the registry changes).';

create function internal.job_kinds_compile() returns trigger
  language plpgsql
  set search_path = ''
as $$
begin
  perform internal.compile_job_kinds();
  return null;
end;
$$;
comment on function internal.job_kinds_compile() is
  'Trigger: the registry changed, so its dispatchers are written again (internal.compile_job_kinds).';

create trigger job_kinds_compile
  after insert or delete or truncate or update of name, context_function, finish_function, on_dead_function
  on internal.job_kinds
  for each statement
  execute function internal.job_kinds_compile();

revoke execute on function internal.compile_job_kinds(), internal.job_kinds_compile() from public, anon, authenticated, service_role;

update internal.job_kinds k
   set on_dead_function = (format('internal.%s_on_dead(internal.jobs)', k.name))::regprocedure
 where k.name in ('chat_reply', 'safety_assessment', 'child_invitation', 'document_analysis', 'video_analysis',
                  'journey_report', 'note_transcription');  -- job_kinds_compile writes the dispatchers

-- -----------------------------------------------------------------------------------------------------
-- one trigger for dead jobs
-- -----------------------------------------------------------------------------------------------------
create function internal.jobs_on_dead() returns trigger
  language plpgsql
  set search_path = ''
as $$
begin
  perform internal.job_kind_on_dead(new);
  return null;
end;
$$;
comment on function internal.jobs_on_dead() is
  'Trigger: a job became dead, so its kind''s on_dead_function runs (internal.job_kinds, through '
  'internal.job_kind_on_dead).';
revoke execute on function internal.jobs_on_dead() from public, anon, authenticated;

create trigger jobs_on_dead
  after update of status on internal.jobs
  for each row
  when (new.status = 'dead' and old.status <> 'dead')
  execute function internal.jobs_on_dead();

-- -----------------------------------------------------------------------------------------------------
-- the queue's core calls the dispatchers (same signatures, same errors); finish_job also skips the
-- ledger's insert when an item has no model calls
-- -----------------------------------------------------------------------------------------------------
create or replace function internal.finish_job(p_worker text, p_item jsonb) returns void
  language plpgsql
  set search_path = ''
as $$
declare
  job internal.jobs := internal.leased_job((p_item ->> 'id')::bigint, p_worker);
  outcome jsonb;
  usage jsonb := coalesce(p_item -> 'usage', '[]');
begin
  if jsonb_typeof(coalesce(p_item -> 'output', '{}')) <> 'object' then
    raise exception 'job %: output must be a JSON object', job.id using errcode = '22023';
  end if;
  outcome := internal.job_kind_finish(job, coalesce(p_item -> 'output', '{}'), usage);
  if usage is distinct from '[]'::jsonb then  -- a kind that calls no model: no ledger insert of nothing
    perform internal.record_model_calls(job, (outcome ->> 'subject_id')::uuid, usage);
  end if;
  update internal.jobs
     set status = 'succeeded', result = outcome, lease_until = null, updated_at = now(), finished_at = now()
   where id = job.id;
end;
$$;

create or replace function internal.job_context(p_job internal.jobs, out context jsonb, out error jsonb)
  language plpgsql
  set search_path = ''
as $$
begin
  context := internal.job_kind_context(p_job);
exception when others then
  context := null;
  error := jsonb_build_object('code', sqlstate, 'message', sqlerrm);
end;
$$;
