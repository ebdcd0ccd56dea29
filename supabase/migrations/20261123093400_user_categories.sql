-- =====================================================================================================
-- user_categories: the areas a user chose to work on. Owner only.
-- =====================================================================================================

-- -----------------------------------------------------------------------------------------------------
-- table
-- -----------------------------------------------------------------------------------------------------
create table public.user_categories (
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  category_id uuid not null references public.categories (id) on delete cascade,
  is_favourite boolean not null default false,
  created_at timestamptz not null default now(),
  primary key (user_id, category_id)
);

comment on table public.user_categories is 'The categories a user chose to work on. Owner only.';
comment on column public.user_categories.user_id is 'The user (defaults to the caller).';
comment on column public.user_categories.category_id is 'The chosen category.';
comment on column public.user_categories.is_favourite is 'Pinned by the user, shown first.';
comment on column public.user_categories.created_at is 'When the user chose the category.';

-- -----------------------------------------------------------------------------------------------------
-- indexes (policies filter by user_id: the primary key's leading column)
-- -----------------------------------------------------------------------------------------------------
create index user_categories_category_id_idx on public.user_categories (category_id);

-- -----------------------------------------------------------------------------------------------------
-- rls
-- -----------------------------------------------------------------------------------------------------
alter table public.user_categories enable row level security;

create policy "Users read their chosen categories"
  on public.user_categories for select to authenticated
  using (user_id = (select auth.uid()));

create policy "Users choose active categories for themselves"
  on public.user_categories for insert to authenticated
  with check (
    user_id = (select auth.uid())
    and category_id in (select c.id from public.categories c where c.is_active)
  );

create policy "Users mark their chosen categories as favourite"
  on public.user_categories for update to authenticated
  using (user_id = (select auth.uid()))
  with check (user_id = (select auth.uid()));

create policy "Users remove their chosen categories"
  on public.user_categories for delete to authenticated
  using (user_id = (select auth.uid()));

-- -----------------------------------------------------------------------------------------------------
-- grants
-- -----------------------------------------------------------------------------------------------------
revoke all on table public.user_categories from public, anon, authenticated, service_role;
grant select, delete on table public.user_categories to authenticated;
grant insert (user_id, category_id, is_favourite) on table public.user_categories to authenticated;
grant update (is_favourite) on table public.user_categories to authenticated;
grant select, insert, update, delete on table public.user_categories to service_role;
