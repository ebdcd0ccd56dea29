-- =====================================================================================================
-- Queueing a user's memory update never waits for a worker's transaction. A user's message (its insert
-- reserves usage: the user's counters row, then maybe queues the memory update: the user_summary job's
-- row) could deadlock with a worker's claim finishing that user_summary job (the job's row, then the
-- same counters row to settle its usage): each held what the other waited for, and the message insert
-- failed with 40P01 (seen in CI under racing workers). Now, when the job's row is held by another
-- transaction (being claimed or finished at that moment), the request is dropped as when the job is
-- queued or running: that job is about to run, or has just run, on the user's latest messages; the next
-- message (or check-in) asks again. Same contract as before otherwise: one user_summary job per user,
-- re-queued when it had succeeded or died.
-- =====================================================================================================

create or replace function internal.enqueue_user_summary(p_user_id uuid, p_reason text) returns void
  language plpgsql
  set search_path = ''
as $$
declare
  summary_key text := 'user_summary:' || p_user_id::text;
  summary_payload jsonb := jsonb_build_object('user_id', p_user_id, 'reason', p_reason);
  existing internal.jobs;
begin
  select j.* into existing from internal.jobs j where j.dedupe_key = summary_key for update skip locked;
  if found then
    if existing.status in ('succeeded', 'dead') then
      update internal.jobs j
         set status = 'queued', attempts = 0, run_after = now(), lease_until = null, locked_by = null,
             last_error = null, finished_at = null, result = null, updated_at = now(), payload = summary_payload
       where j.id = existing.id;
    end if;
    return;
  end if;
  -- Not found: there is none, or another transaction holds it (read without waiting, as of this statement).
  if exists (select 1 from internal.jobs j where j.dedupe_key = summary_key) then
    return;
  end if;
  insert into internal.jobs (kind, payload, dedupe_key, ordering_key)
  values ('user_summary', summary_payload, summary_key, 'user:' || p_user_id::text)
  on conflict (dedupe_key) do nothing;
end;
$$;
comment on function internal.enqueue_user_summary(uuid, text) is
  'Queue a user_summary job for a user, unless one is already queued or running, or is being claimed or finished '
  'by a worker at this moment (deduplicated per user; it never waits for another transaction''s lock on the job).';
revoke execute on function internal.enqueue_user_summary(uuid, text) from public, anon, authenticated;
