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

step('done');
