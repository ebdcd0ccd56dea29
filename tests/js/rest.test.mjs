// supabase-js core REST flows against the devstack's /rest/v1 (run by tests/rest/test_js.py).
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { createClient } from '@supabase/supabase-js';

const url = process.env.SUPABASE_URL;
const anonKey = process.env.SUPABASE_ANON_KEY;
const userToken = process.env.USER_TOKEN;
const step = (name) => console.log(JSON.stringify({ step: name }));

const options = { realtime: { transport: WebSocket }, auth: { persistSession: false, autoRefreshToken: false } };
const anon = createClient(url, anonKey, options);
const user = createClient(url, anonKey, { ...options, global: { headers: { Authorization: `Bearer ${userToken}` } } });

// select with embeds both ways, filters, order, count
{
  const { data, error, count } = await anon
    .from('todos')
    .select('id, title, notes(body), author:authors!author_id(name)', { count: 'exact' })
    .lte('id', 2)
    .order('id');
  assert.equal(error, null);
  assert.equal(count, 2);
  assert.deepEqual(data[0].author, { name: 'Ana' });
  assert.deepEqual(data[0].notes.map((n) => n.body).sort(), ['first', 'second']);
  step('select-embed');
}

// insert returning, update, single, delete
{
  const title = `js-${Date.now()}`;
  const inserted = await user.from('todos').insert({ title, tags: ['js'] }).select().single();
  assert.equal(inserted.error, null);
  assert.equal(inserted.data.title, title);
  const bulk = await user.from('items').insert([{ id: 900001, name: `${title}-a` }, { id: 900002, name: `${title}-b`, qty: 4 }], { defaultToNull: false }).select('id, qty');
  assert.equal(bulk.error, null);
  assert.deepEqual(bulk.data, [{ id: 900001, qty: 1 }, { id: 900002, qty: 4 }]);
  const upserted = await user.from('items').upsert({ id: 900001, name: `${title}-c`, qty: 8 }).select().single();
  assert.equal(upserted.data.qty, 8);
  const updated = await user.from('todos').update({ done: true }).eq('id', inserted.data.id).select('done');
  assert.deepEqual(updated.data, [{ done: true }]);
  const removed = await user.from('todos').delete().eq('id', inserted.data.id);
  assert.equal(removed.error, null);
  assert.equal(removed.status, 204);
  step('write');
}

// rpc
{
  const { data, error } = await anon.rpc('add', { a: 2, b: 3 });
  assert.equal(error, null);
  assert.equal(data, 5);
  const rows = await anon.rpc('pairs', { upto: 3 }).gt('k', 1);
  assert.deepEqual(rows.data, [{ k: 2, v: 'v2' }, { k: 3, v: 'v3' }]);
  const got = await anon.rpc('add', { a: 1, b: 1 }, { get: true });
  assert.equal(got.data, 2);
  step('rpc');
}

// errors carry PostgREST's codes
{
  const missing = await anon.from('nothing').select('*');
  assert.equal(missing.error.code, 'PGRST205');
  assert.equal(missing.status, 404);
  const denied = await anon.from('entries').insert({ body: 'x' });
  assert.equal(denied.error.code, '42501');
  assert.equal(denied.status, 401);
  const none = await anon.from('todos').select('id').eq('id', -1).single();
  assert.equal(none.error.code, 'PGRST116');
  const maybe = await anon.from('todos').select('id').eq('id', -1).maybeSingle();
  assert.equal(maybe.error, null);
  assert.equal(maybe.data, null);
  const schema = await createClient(url, anonKey, { ...options, db: { schema: 'private' } }).from('things').select();
  assert.equal(schema.error.code, 'PGRST106');
  step('errors');
}

// relationships beyond one foreign key: many-to-many, hints, self references, views, computed ones
{
  const products = await anon.from('products').select('name, categories(name)').order('id').order('id', { referencedTable: 'categories' });
  assert.equal(products.error, null);
  assert.deepEqual(products.data[1], { name: 'mug', categories: [{ name: 'kitchen' }, { name: 'gifts' }] });
  const hinted = await anon.from('todos').select('reviewer:authors!reviewer_id(name)').eq('id', 1).single();
  assert.deepEqual(hinted.data, { reviewer: { name: 'Ben' } });
  const tree = await anon.from('collections').select('id, parent:parent_id(id), collections(id)').eq('id', 2).single();
  assert.deepEqual(tree.data, { id: 2, parent: { id: 1 }, collections: [{ id: 4 }] });
  const view = await anon.from('open_todos').select('id, authors(name)').eq('id', 3).single();
  assert.deepEqual(view.data, { id: 3, authors: { name: 'Ben' } });
  const computed = await anon.from('authors').select('shout, latest_todo(id), reviews(id)').eq('id', 2).single();
  assert.deepEqual(computed.data, { shout: 'BEN', latest_todo: { id: 3 }, reviews: [{ id: 1 }] });
  const spread = await anon.from('products').select('name, ...categories(category:name)').eq('id', 2).order('id', { referencedTable: 'categories' }).single();
  assert.deepEqual(spread.data, { name: 'mug', category: ['kitchen', 'gifts'] });
  const counted = await anon.from('authors').select('name, todos!author_id(count)').eq('id', 1).single();
  assert.deepEqual(counted.data, { name: 'Ana', todos: [{ count: 2 }] });
  const empty = await anon.from('products').select('name, categories!inner()').eq('categories.name', 'gifts');
  assert.deepEqual(empty.data, [{ name: 'mug' }]);
  const arrays = await anon.from('todos').select('id').lte('id', 5).or('tags.cs.{a,b},tags.cs.{c}').order('id');
  assert.deepEqual(arrays.data.map((r) => r.id), [1, 2, 3]);
  const stripped = await anon.from('todos').select('id, n, s').eq('id', 4).stripNulls().single();
  assert.deepEqual(stripped.data, { id: 4, s: 'd' });
  step('relationships');
}

// overloaded and unnamed-parameter functions
{
  assert.equal((await anon.rpc('overloaded')).data, 1);
  assert.equal((await anon.rpc('overloaded', { a: 2, b: 3 })).data, 23);
  assert.deepEqual((await anon.rpc('unnamed_json', { x: 1 })).data, { got: { x: 1 } });
  const ambiguous = await anon.rpc('ambiguous', { a: 'x' });
  assert.equal(ambiguous.error.code, 'PGRST203');
  assert.equal(ambiguous.status, 300);
  step('overloads');
}

// aggregates and explain, enabled through pgrst.* settings by the test (FEATURES=1)
if (process.env.FEATURES === '1') {
  const totals = await anon.from('todos').select('count(), n.sum()').lte('id', 5);
  assert.equal(totals.error, null);
  assert.deepEqual(totals.data, [{ count: 5, sum: 11 }]);
  const plan = await anon.from('todos').select('id').eq('id', 1).explain();
  assert.equal(plan.error, null);
  assert.match(String(plan.data), /Scan/);
  const title = `js-max-${Date.now()}`;
  await user.from('todos').insert([{ title }, { title }]);
  const refused = await user.from('todos').update({ n: 7 }).eq('title', title).maxAffected(1);
  assert.equal(refused.error.code, 'PGRST124');
  const removed = await user.from('todos').delete().eq('title', title).maxAffected(2);
  assert.equal(removed.error, null);
  step('features');
}

step('done');
