-- =====================================================================================================
-- The claim builds its answer once.
-- claim_jobs_v4 appended each job and each finished item to a jsonb value, which copies the value whole
-- every time; it now collects them in arrays and builds the answer at the end. Same signature, same
-- answer (a repeated id still reports its last outcome).
-- =====================================================================================================

-- -----------------------------------------------------------------------------------------------------
-- claim_jobs_v4, as in 20261210001400, its answer built once
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
  finished_ids text[] := '{}';
  refusals jsonb[] := '{}';
  jobs jsonb[] := '{}';
  job internal.jobs;
  built record;
  seen pg_snapshot;
  claimed internal.jobs[] := '{}';
  sort_was text;
  bitmap_was text;
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
      finished_ids := finished_ids || (item ->> 'id');
      refusals := refusals || null::jsonb;
    exception when others then
      finished_ids := finished_ids || (item ->> 'id');
      refusals := refusals || jsonb_build_object('code', sqlstate, 'message', sqlerrm);
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
    -- (jobs_fair_idx, read in order): each statement walks its own partial index and stops after what is
    -- wanted. Postgres would sometimes rather collect every due job (a bitmap scan) and sort them all:
    -- when its statistics say few are due (an autoanalyze in the middle of a backlog, say), every claim
    -- then reads and sorts the whole backlog (2.5x the CPU a job in `bench queue`). Sorts and bitmap
    -- scans are off for these two statements only; the jobs' contexts are built after, as usual.
    sort_was := current_setting('enable_sort');
    bitmap_was := current_setting('enable_bitmapscan');
    perform set_config('enable_sort', 'off', true), set_config('enable_bitmapscan', 'off', true);
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
      claimed := claimed || job;
    end loop;
    if cardinality(claimed) < wanted then
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
           limit wanted - cardinality(claimed)
             for update skip locked
        )
        update internal.jobs j
           set status = 'running', attempts = j.attempts + 1, lease_until = now() + lease, locked_by = p_worker,
               updated_at = now()
          from candidates c
         where j.id = c.id
        returning j.*
      loop
        claimed := claimed || job;
      end loop;
    end if;
    perform set_config('enable_sort', sort_was, true), set_config('enable_bitmapscan', bitmap_was, true);

    foreach job in array claimed loop
      built := internal.job_context(job);
      jobs := jobs || (to_jsonb(job) || jsonb_build_object('context', built.context, 'context_error', built.error));
    end loop;
  end if;
  -- Built once: appending to a jsonb value copies it whole each time, appending to an array does not.
  return jsonb_build_object(
    'jobs', to_jsonb(jobs),
    'finished', coalesce((select jsonb_object_agg(f.id, f.refusal) from unnest(finished_ids, refusals) as f(id, refusal)), '{}'),
    'snapshot', seen::text);
end;
$$;
comment on function public.claim_jobs_v4 is
  'Workers: finish the jobs in p_finish ({id, output, usage}; each through its kind''s finish function, on its '
  'own), then lease up to p_limit due jobs of p_kinds, each with its kind''s context. Returns {"jobs": [...], '
  '"finished": {"<id>": null | {"code", "message"}}, "snapshot": the snapshot taken before looking, as text}; '
  'code PT409 = lease lost. service_role only.';

revoke execute on function public.claim_jobs_v4 from public, anon, authenticated;
grant execute on function public.claim_jobs_v4 to service_role;
