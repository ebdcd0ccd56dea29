-- A conversation's latest turns under RLS stay as cheap as for the service role, however long it grows.
--
-- The messages SELECT policy adds `user_id = (select auth.uid())` to every query. Postgres plans that
-- as an unknown value, takes it as independent of `conversation_id` and expects about one row, so with
-- an index on (user_id, created_at) it ANDed that index with (conversation_id, created_at) and sorted
-- the whole conversation: 2-4 ms for a 5,000-message conversation against 0.4 ms for the service role
-- (bench/rls.py). An index that leads with the policy's column and then the conversation gives one
-- ordered index range for "this user's conversation, newest first", which the planner walks backward
-- and stops after the limit.
--
-- The memory trigger (internal.maybe_enqueue_user_summary) counts a user's recent *user* messages; it
-- gets a partial index of its own, which history queries (no `role = 'user'`) cannot pick up.
-- Extended statistics on (conversation_id, user_id) were tried and made things worse: with prepared
-- statements the generic plan went back to the sort.

create index messages_user_id_conversation_id_created_at_idx
  on public.messages (user_id, conversation_id, created_at);

create index messages_user_id_created_at_user_role_idx
  on public.messages (user_id, created_at)
  where role = 'user';

drop index public.messages_user_id_created_at_idx;

comment on index public.messages_user_id_conversation_id_created_at_idx is
  'Latest turns of a conversation under the owner''s RLS policy (user_id = auth.uid()).';
comment on index public.messages_user_id_created_at_user_role_idx is
  'Recent user messages per user: the memory trigger''s count.';
