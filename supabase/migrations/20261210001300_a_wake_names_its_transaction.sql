-- =====================================================================================================
-- A wake-up names its transaction, and a claim says what it could see: a worker whose claim found
-- nothing knows whether the work it was woken for had been taken already or was not visible yet.
-- The `wake` on workers:jobs can arrive before its transaction is visible to other sessions (the commit is
-- streamed first). So a worker whose woken claim found nothing looked once more, 20 ms later. With N
-- workers every wake-up reaches all of them and one takes the work: the other N - 1 found nothing and
-- each looked again, 2N - 1 claims a wake-up. The `wake` now carries the transaction's id
-- ({"xid": "<xid8>"}) and claim_jobs_v4's answer the snapshot taken before it looked ("snapshot":
-- pg_snapshot as text, xmin:xmax:xip,...): a claim whose snapshot already saw that transaction and found
-- nothing needs no second look (another worker has the work, or it waits on its ordering key, whose
-- running job's finish claims it). Same signature; older workers ignore the new key and keep looking again.
-- =====================================================================================================

create or replace function internal.jobs_wake_workers() returns trigger
  language plpgsql
  security definer
  set search_path = ''
as $$
begin
  if current_setting('coachbase.workers_woken', true) is distinct from 'yes'
     and exists (select 1 from inserted i where i.run_after <= now()) then
    perform set_config('coachbase.workers_woken', 'yes', true);
    perform realtime.send(jsonb_build_object('xid', pg_current_xact_id()::text), 'wake', 'workers:jobs', true);
  end if;
  return null;
end;
$$;
comment on function internal.jobs_wake_workers() is
  'Trigger: wake the workers (Broadcast `wake` {xid} on the private topic workers:jobs) once per transaction '
  'that queues due work; xid is the transaction''s id, which a claim''s snapshot tells visible or not.';

-- -----------------------------------------------------------------------------------------------------
-- claim_jobs_v4, as in 20261206000000_job_kinds plus "snapshot"
-- -----------------------------------------------------------------------------------------------------
--   p_finish  [{"id": 1, "output": {...}, "usage": [{model, prompt_version, tokens...}, ...]}, ...]
--             each item finished on its own (internal.finish_job in a subtransaction): a lost lease or
--             a refused output fails that item, not the others
--   returns   {"jobs": [job row + "context" + "context_error"], "finished": {"<id>": null | {code, message}},
--              "snapshot": "xmin:xmax:xip,..." (taken before looking for due jobs; null when p_limit is 0)}
--             code PT409 = the lease was lost
-- A job is due when queued or failed with run_after passed, or running with an expired lease (its worker
-- died); expired ones are taken first, then the rest in fair order (fair_at). Jobs sharing an ordering_key run one at a time, oldest first;
-- an expired job on its last attempt becomes dead.
create or replace function public.claim_jobs_v4(
  p_worker text,
  p_kinds text[],
  p_limit integer default 1,
  p_lease_seconds integer default 60,
  p_finish jsonb default '[]'
) returns jsonb
  language plpgsql
  set search_path = ''
as $$
declare
  wanted integer := least(greatest(coalesce(p_limit, 0), 0), 100);
  lease interval;
  item jsonb;
  finished jsonb := '{}';
  jobs jsonb := '[]';
  job internal.jobs;
  built record;
  seen pg_snapshot;
begin
  if p_worker is null or p_worker = '' then
    raise exception 'claim_jobs_v4: p_worker is required' using errcode = '22023';
  end if;
  if p_lease_seconds is null or p_lease_seconds not between 1 and 3600 then
    raise exception 'claim_jobs_v4: p_lease_seconds must be between 1 and 3600' using errcode = '22023';
  end if;
  if jsonb_typeof(coalesce(p_finish, '[]')) <> 'array' then
    raise exception 'claim_jobs_v4: p_finish must be a JSON array' using errcode = '22023';
  end if;
  lease := make_interval(secs => p_lease_seconds);

  for item in select value from jsonb_array_elements(coalesce(p_finish, '[]')) loop
    if jsonb_typeof(item) <> 'object' or jsonb_typeof(item -> 'id') <> 'number' then
      raise exception 'claim_jobs_v4: each p_finish item needs a numeric "id": %', left(item::text, 200)
        using errcode = '22023';
    end if;
    begin
      perform internal.finish_job(p_worker, item);
      finished := finished || jsonb_build_object(item ->> 'id', null);
    exception when others then
      finished := finished || jsonb_build_object(item ->> 'id', jsonb_build_object('code', sqlstate, 'message', sqlerrm));
    end;
  end loop;
  if jsonb_array_length(coalesce(p_finish, '[]')) = 0 then
    -- A claim alone need not wait for its WAL flush: if the server crashes before it is on disk, the jobs
    -- are simply still due and are claimed again. Finished outputs are flushed before the worker hears so.
    perform set_config('synchronous_commit', 'off', true);
  end if;

  if wanted > 0 then
    -- Whatever this snapshot sees, the statements below see too (each takes a newer one).
    seen := pg_current_snapshot();
    update internal.jobs
       set status = 'dead', lease_until = null, locked_by = null, updated_at = now(), finished_at = now(),
           last_error = coalesce(last_error || '; ', '') || 'lease expired on the last attempt (worker lost)'
     where status = 'running' and lease_until < now() and attempts >= max_attempts and kind = any(p_kinds);

    -- Running jobs whose lease expired (jobs_lease_idx), then queued and retrying ones in fair order
    -- (jobs_fair_idx, read in order): each statement walks its own partial index and stops after what is wanted.
    for job in
      with candidates as (
        select j.id
          from internal.jobs j
         where j.status = 'running' and j.lease_until < now() and j.kind = any(p_kinds)
           and (j.ordering_key is null or not exists (
                 select 1 from internal.jobs e
                  where e.ordering_key = j.ordering_key and e.id < j.id
                    and e.status in ('queued', 'running', 'failed')))
         order by j.run_after, j.id
         limit wanted
           for update skip locked
      )
      update internal.jobs j
         set status = 'running', attempts = j.attempts + 1, lease_until = now() + lease, locked_by = p_worker,
             updated_at = now()
        from candidates c
       where j.id = c.id
      returning j.*
    loop
      built := internal.job_context(job);
      jobs := jobs || jsonb_build_array(to_jsonb(job) || jsonb_build_object('context', built.context, 'context_error', built.error));
    end loop;

    if jsonb_array_length(jobs) < wanted then
      for job in
        with candidates as (
          select j.id
            from internal.jobs j
           where j.status in ('queued', 'failed') and j.run_after <= now() and j.kind = any(p_kinds)
             and (j.ordering_key is null or not exists (
                   select 1 from internal.jobs e
                    where e.ordering_key = j.ordering_key and e.id < j.id
                      and e.status in ('queued', 'running', 'failed')))
           order by j.fair_at, j.id
           limit wanted - jsonb_array_length(jobs)
             for update skip locked
        )
        update internal.jobs j
           set status = 'running', attempts = j.attempts + 1, lease_until = now() + lease, locked_by = p_worker,
               updated_at = now()
          from candidates c
         where j.id = c.id
        returning j.*
      loop
        built := internal.job_context(job);
        jobs := jobs || jsonb_build_array(to_jsonb(job) || jsonb_build_object('context', built.context, 'context_error', built.error));
      end loop;
    end if;
  end if;
  return jsonb_build_object('jobs', jobs, 'finished', finished, 'snapshot', seen::text);
end;
$$;
comment on function public.claim_jobs_v4 is
  'Workers: finish the jobs in p_finish ({id, output, usage}; each through its kind''s finish function, on its '
  'own), then lease up to p_limit due jobs of p_kinds, each with its kind''s context. Returns {"jobs": [...], '
  '"finished": {"<id>": null | {"code", "message"}}, "snapshot": the snapshot taken before looking, as text}; '
  'code PT409 = lease lost. service_role only.';

revoke execute on function public.claim_jobs_v4 from public, anon, authenticated;
grant execute on function public.claim_jobs_v4 to service_role;
