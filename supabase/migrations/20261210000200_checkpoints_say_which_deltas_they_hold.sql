-- =====================================================================================================
-- A streaming reply's row says which deltas its text holds, so a client catching up knows what to add.
-- While a reply streams, the worker checkpoints its text into the row about once a second, and a client
-- that (re)joins mid-reply reads the row and then applies the `delta` broadcasts. Until now the row did
-- not say which deltas its text already held, nor of which attempt (20261210000100): a client could only
-- guess, and after a takeover the row kept the earlier attempt's text until the next checkpoint.
-- Now a checkpoint records `delta_seq` and `delta_attempt`: the content is exactly the text of deltas
-- 1..delta_seq of that attempt. Catching up: subscribe, read the row, and while it is streaming apply
-- the deltas of the same attempt numbered above delta_seq; a later attempt starts over.
-- checkpoint_chat_replies_v1 takes both as optional item fields ("seq", "attempt"). A worker of the
-- release before this one sends neither: its checkpoints leave them null, "not known" (the function's
-- meaning for that caller is unchanged, so it keeps its name).
-- =====================================================================================================

alter table public.messages
  add column delta_seq integer check (delta_seq >= 0),
  add column delta_attempt integer check (delta_attempt >= 1);
comment on column public.messages.delta_seq is
  'While the reply streams: its content is the text of its deltas 1..delta_seq (of attempt delta_attempt). '
  'A client catching up applies the later ones. Null: not known.';
comment on column public.messages.delta_attempt is
  'While the reply streams: the attempt whose deltas the content holds. Deltas of a later attempt start over.';

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
      if jsonb_typeof(item -> 'seq') not in ('number', 'null') or jsonb_typeof(item -> 'attempt') not in ('number', 'null') then
        raise exception 'checkpoint of job %: "seq" and "attempt" must be numbers', job.id using errcode = '22023';
      end if;
      update public.messages
         set content = left(item ->> 'content', 32000), status = 'streaming', error = null,
             delta_seq = (item ->> 'seq')::integer, delta_attempt = (item ->> 'attempt')::integer
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
comment on function public.checkpoint_chat_replies_v1 is
  'Workers: store the partial text of several streaming replies, each item ({job_id, message_id, content, '
  'seq, attempt}: the text of deltas 1..seq of that attempt) on its own. Returns {"<job_id>": null | '
  '{"code", "message"}}; code PT409 = lease lost. service_role only.';
