-- =====================================================================================================
-- Cancelling a user's pending follow-ups never waits for a worker's transaction on a follow-up job.
-- A check-in's analysis is finished in a worker's claim, which settles the user's usage counters;
-- cancelling the user's pending follow-up in the category (internal.schedule_followup) waited for a
-- follow-up job row that another claim held while it, in turn, waited for the same counters: the shape
-- of the deadlock fixed for the memory update in 20261209000400. A user's completed check-in
-- (internal.cancel_followups) waited there too. A follow-up held by another transaction (being claimed
-- or finished at that moment) is now left alone: it runs, as if it had started a moment earlier.
-- =====================================================================================================

create or replace function internal.cancel_followups() returns trigger
  language plpgsql
  security definer
  set search_path = ''
as $$
begin
  update internal.jobs
     set status = 'succeeded', finished_at = now(), updated_at = now(),
         result = jsonb_build_object('cancelled', 'a newer check-in in the same category', 'by', new.id)
   where id in (select j.id from internal.jobs j
                 where j.kind = 'followup' and j.status in ('queued', 'failed')
                   and j.payload ->> 'user_id' = new.user_id::text
                   and j.payload ->> 'category_id' = new.category_id::text
                   and j.payload ->> 'checkin_id' <> new.id::text
                   for update skip locked);
  return null;
end;
$$;

create or replace function internal.schedule_followup() returns trigger
  language plpgsql
  security definer
  set search_path = ''
as $$
declare
  delay interval := (select c.followup_after from public.categories c where c.id = new.category_id);
  newer boolean := exists (
    select 1 from public.checkins k
     where k.user_id = new.user_id and k.category_id = new.category_id and k.status = 'completed'
       and (k.completed_at, k.id) > (new.completed_at, new.id)
  );
begin
  if delay is null or newer then
    return null;
  end if;
  -- Skip locked: a follow-up a worker is claiming at this moment is left to run (as if it had started a
  -- moment earlier), rather than waited for.
  update internal.jobs
     set status = 'succeeded', finished_at = now(), updated_at = now(),
         result = jsonb_build_object('cancelled', 'a newer check-in in the same category', 'by', new.id)
   where id in (select j.id from internal.jobs j
                 where j.kind = 'followup' and j.status in ('queued', 'failed') and j.user_id = new.user_id
                   and j.payload ->> 'category_id' = new.category_id::text and j.payload ->> 'checkin_id' <> new.id::text
                   for update skip locked);
  perform internal.enqueue_job(
    'followup',
    jsonb_build_object('checkin_id', new.id, 'user_id', new.user_id, 'category_id', new.category_id),
    'followup:' || new.id::text,
    null,
    coalesce(new.completed_at, now()) + delay
  );
  return null;
end;
$$;

