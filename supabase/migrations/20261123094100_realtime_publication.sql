-- =====================================================================================================
-- Realtime: the tables frontends subscribe to with Postgres Changes. RLS decides which rows each
-- subscriber receives. Streamed reply text travels over Broadcast, not through this publication.
-- =====================================================================================================

alter publication supabase_realtime
  add table public.messages, public.checkins, public.recommendations, public.user_summaries;
