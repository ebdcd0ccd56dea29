-- Fixed rows the read tests rely on (write tests use rows of their own).
insert into public.authors (id, name, bio) overriding system value values
  (1, 'Ana', '{"city": "Lisbon", "langs": ["pt", "en"]}'),
  (2, 'Ben', '{"city": "Berlin"}'),
  (3, 'Cy', null);
insert into public.todos (id, title, done, n, s, d, tags, data, span, author_id, reviewer_id) overriding system value values
  (1, 'seed alpha', false, 1, 'a', '2026-01-01', '{a,b}', '{"k": "x", "nested": {"v": 1}}', '[1,5)', 1, 2),
  (2, 'seed beta', true, 2, 'b', '2026-02-01', '{a,b,c}', '{"k": "y"}', '[5,10)', 1, null),
  (3, 'seed gamma', false, 3, null, null, '{c}', null, null, 2, 1),
  (4, 'seed delta, "quoted"', false, null, 'd', null, '{}', null, null, null, null),
  (5, 'seed epsilon', true, 5, 'e', '2026-03-01', '{}', '{"k": "z"}', '[20,30)', 3, null);
select setval(pg_get_serial_sequence('public.todos', 'id'), 100);
select setval(pg_get_serial_sequence('public.authors', 'id'), 100);
insert into public.notes (todo_id, body, position) values (1, 'first', 1), (1, 'second', 2), (2, 'third', 1);
insert into public.todo_details (todo_id, info) values (1, 'detail one');
insert into public.products (id, name, price) values (1, 'tea', 3.50), (2, 'mug', 8.00), (3, 'spoon', 1.25);
insert into public.categories (id, name) values (1, 'kitchen'), (2, 'drinks'), (3, 'gifts');
insert into public.product_categories values (1, 2), (2, 1), (2, 3), (3, 1);
insert into public.collections (id, description, parent_id) values
  (1, 'root', null), (2, 'child a', 1), (3, 'child b', 1), (4, 'grandchild', 2);
insert into public.fan_left select g from generate_series(1, 40) g;
insert into public.fan_right select g from generate_series(1, 40) g;
insert into public.fan_links select l, r from generate_series(1, 40) l, generate_series(1, 40) r;
