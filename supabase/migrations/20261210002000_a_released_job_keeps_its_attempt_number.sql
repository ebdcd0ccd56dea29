-- =====================================================================================================
-- A released job keeps its attempt number.
-- release_job_v1 (a worker stopping hands back what it runs) took one off `attempts`, so the next claim
-- gave the job the same number again. A reply streams its deltas as (attempt, seq) and a client starts
-- over only on a higher attempt: the new run's deltas 1..n under the same attempt were read as the old
-- run's, and the app showed the two runs' text spliced (or lost what the old run had sent beyond them).
-- A release now leaves `attempts` as it is and allows one attempt more instead: still not counted
-- against the job's limit (up to the limit's bound, 100), and every claim numbers its run above the last.
-- =====================================================================================================

create or replace function public.release_job_v1(p_job_id bigint, p_worker text) returns void
  language plpgsql
  set search_path = ''
as $$
begin
  perform internal.leased_job(p_job_id, p_worker);
  update internal.jobs
     set status = 'queued', max_attempts = least(max_attempts + 1, 100), lease_until = null, locked_by = null,
         updated_at = now()
   where id = p_job_id;
end;
$$;
comment on function public.release_job_v1(bigint, text) is
  'Workers: give a claimed job back on shutdown, queued again at once; its attempt is not counted against '
  'max_attempts (one more is allowed, up to 100) and the next run is numbered above it. service_role only.';
