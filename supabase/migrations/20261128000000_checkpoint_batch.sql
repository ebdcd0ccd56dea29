-- =====================================================================================================
-- Checkpoints of streaming replies, many in one call: one request per worker tick instead of one per
-- stream and second.
--
--   checkpoint_chat_replies_v1(p_worker, p_items)
--       p_items: [{"job_id": 1, "message_id": "…", "content": "partial text"}, …]; each item is stored
--       as checkpoint_chat_reply_v1 stores one, on its own (a lost lease or a bad item fails that item,
--       not the others). Returns {"<job_id>": null when stored, or {"code": SQLSTATE, "message": …}};
--       PT409 means the lease was lost.
--
-- A worker streaming 100 replies saved each one's partial text once a second in a request of its own:
-- with real replies (several seconds each) those were most of its requests. It now sends the
-- checkpoints made while one such call is in flight together in the next.
-- =====================================================================================================

create function public.checkpoint_chat_replies_v1(p_worker text, p_items jsonb)
  returns jsonb
  language plpgsql
  set search_path = ''
as $$
declare
  item jsonb;
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
      perform public.checkpoint_chat_reply_v1(
        (item ->> 'job_id')::bigint, p_worker, (item ->> 'message_id')::uuid, item ->> 'content'
      );
      outcome := outcome || jsonb_build_object(item ->> 'job_id', null);
    exception when others then
      outcome := outcome || jsonb_build_object(
        item ->> 'job_id', jsonb_build_object('code', sqlstate, 'message', sqlerrm)
      );
    end;
  end loop;
  -- A partial text is for catching up, and the final reply is written (durably) by the completion: a
  -- checkpoint lost in a crash of the server only means an older partial text. No flush to wait for.
  perform set_config('synchronous_commit', 'off', true);
  return outcome;
end;
$$;
comment on function public.checkpoint_chat_replies_v1 is
  'Workers: store the partial text of several streaming replies (as checkpoint_chat_reply_v1, each item on '
  'its own). Returns {"<job_id>": null | {"code", "message"}}; code PT409 = lease lost. service_role only.';

revoke execute on function public.checkpoint_chat_replies_v1 from public, anon, authenticated;
grant execute on function public.checkpoint_chat_replies_v1 to service_role;
