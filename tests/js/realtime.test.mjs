// supabase-js (unchanged, vsn 2.0.0) against the devstack's /realtime/v1. Run by tests/realtime/test_js.py:
//   SUPABASE_URL=… SUPABASE_ANON_KEY=… LABEL=… node tests/js/realtime.test.mjs
// Prints {"step":"ready"} once subscribed; the Python side then writes rows; prints {"step":"done"}.
import assert from 'node:assert/strict'
import { createClient } from '@supabase/supabase-js'
import WebSocket from 'ws'

const url = process.env.SUPABASE_URL
const anonKey = process.env.SUPABASE_ANON_KEY
const label = process.env.LABEL

function step(name, details) {
  console.log(JSON.stringify({ step: name, ...details }))
}

function deferred() {
  let resolve
  const promise = new Promise((r) => (resolve = r))
  return { promise, resolve }
}

function subscribed(channel) {
  const done = deferred()
  channel.subscribe((status, err) => {
    if (status === 'SUBSCRIBED') done.resolve()
    else if (status !== 'CLOSED') throw new Error(`subscribe: ${status} ${err}`)
  })
  return done.promise
}

function within(promise, ms, what) {
  return Promise.race([promise, new Promise((_, reject) => setTimeout(() => reject(new Error(`timeout: ${what}`)), ms))])
}

const supabase = createClient(url, anonKey, {
  realtime: { transport: WebSocket },
  auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
})

const changes = []
const gotChanges = deferred()
const db = supabase
  .channel('js-db')
  .on('postgres_changes', { event: '*', schema: 'public', table: 'rt_messages', filter: `body=eq.${label}` }, (p) => {
    changes.push(p)
    if (changes.length === 2) gotChanges.resolve()
  })
  .on('postgres_changes', { event: 'DELETE', schema: 'public', table: 'rt_messages' }, (p) => {
    changes.push(p)
  })

const items = []
const gotItems = deferred()
const filtered = supabase
  .channel('js-items')
  .on('postgres_changes', { event: 'INSERT', schema: 'public', table: 'rt_items', filter: `n=in.(2,3)` }, (p) => {
    if (p.new.label !== label) return
    items.push(p.new.n)
    if (items.length === 2) gotItems.resolve()
  })

const heard = deferred()
const room = supabase
  .channel(`js-room-${label}`, { config: { broadcast: { self: true, ack: true } } })
  .on('broadcast', { event: 'ping' }, (p) => heard.resolve(p))

await within(Promise.all([subscribed(db), subscribed(filtered), subscribed(room)]), 10000, 'subscribe')
step('subscribed')
const ack = await room.send({ type: 'broadcast', event: 'ping', payload: { n: 1 } })
assert.equal(ack, 'ok')
const echo = await within(heard.promise, 5000, 'broadcast')
assert.deepEqual(echo.payload, { n: 1 })
step('broadcast', { echo })
step('ready')

await within(Promise.all([gotChanges.promise, gotItems.promise]), 10000, 'changes')
// The DELETE may arrive on the second binding shortly after the first two changes.
const deadline = Date.now() + 5000
while (!changes.some((c) => c.eventType === 'DELETE') && Date.now() < deadline) {
  await new Promise((r) => setTimeout(r, 20))
}
const insert = changes.find((c) => c.eventType === 'INSERT')
const update = changes.find((c) => c.eventType === 'UPDATE')
const del = changes.find((c) => c.eventType === 'DELETE')
assert.equal(insert.schema, 'public')
assert.equal(insert.table, 'rt_messages')
assert.equal(insert.new.body, label)
assert.equal(typeof insert.new.id, 'number')
assert.match(insert.commit_timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
assert.deepEqual(update.old, { id: insert.new.id })
assert.equal(update.new.body, label)
assert.deepEqual(del.old, { id: insert.new.id })
assert.deepEqual(items.sort(), [2, 3])
step('done', { changes: changes.length, items })
await supabase.removeAllChannels()
process.exit(0)
