// storage-js (through supabase-js, unchanged) against the devstack's /storage/v1. Run by tests/storage/test_js.py:
//   SUPABASE_URL=… SUPABASE_ANON_KEY=… BUCKET=<bucket with owner-folder policies> node tests/js/storage.test.mjs
// Prints one JSON line per step; exits non-zero on the first failure.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { createClient } from '@supabase/supabase-js'
import WebSocket from 'ws'

const url = process.env.SUPABASE_URL
const anonKey = process.env.SUPABASE_ANON_KEY
const bucket = process.env.BUCKET

function client() {
  return createClient(url, anonKey, {
    realtime: { transport: WebSocket },
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
  })
}

function step(name, details) {
  console.log(JSON.stringify({ step: name, ...details }))
}

async function user() {
  const supabase = client()
  const { data, error } = await supabase.auth.signUp({
    email: `storage-js-${randomUUID().slice(0, 12)}@example.com`,
    password: 'correct-horse-1',
  })
  assert.equal(error, null)
  return { supabase, id: data.user.id }
}

async function main() {
  const alice = await user()
  const files = alice.supabase.storage.from(bucket)

  // A Blob goes as multipart (file field ''), an ArrayBuffer raw with its content type.
  const blob = await files.upload(`${alice.id}/hello.txt`, new Blob(['hello from js'], { type: 'text/plain' }))
  assert.equal(blob.error, null, JSON.stringify(blob.error))
  assert.equal(blob.data.path, `${alice.id}/hello.txt`)
  assert.equal(blob.data.fullPath, `${bucket}/${alice.id}/hello.txt`)
  assert.ok(blob.data.id)
  const raw = await files.upload(`${alice.id}/data.bin`, new Uint8Array([1, 2, 3, 4]).buffer, {
    contentType: 'application/octet-stream',
    metadata: { source: 'js' },
  })
  assert.equal(raw.error, null, JSON.stringify(raw.error))
  step('upload', { blob: blob.data.path, raw: raw.data.path })

  const listed = await files.list(alice.id)
  assert.equal(listed.error, null)
  assert.deepEqual(listed.data.map((f) => f.name), ['data.bin', 'hello.txt'])
  const downloaded = await files.download(`${alice.id}/hello.txt`)
  assert.equal(downloaded.error, null)
  assert.equal(await downloaded.data.text(), 'hello from js')
  const info = await files.info(`${alice.id}/data.bin`)
  assert.equal(info.error, null, JSON.stringify(info.error))
  assert.equal(info.data.size, 4)
  assert.deepEqual(info.data.metadata, { source: 'js' })
  step('list, download, info', { names: listed.data.map((f) => f.name) })

  const signed = await files.createSignedUrl(`${alice.id}/hello.txt`, 60)
  assert.equal(signed.error, null)
  const fetched = await fetch(signed.data.signedUrl)
  assert.equal(fetched.status, 200)
  assert.equal(await fetched.text(), 'hello from js')
  step('createSignedUrl', { status: fetched.status })

  const upload = await files.createSignedUploadUrl(`${alice.id}/linked.txt`)
  assert.equal(upload.error, null)
  const viaLink = await client().storage.from(bucket).uploadToSignedUrl(upload.data.path, upload.data.token, new Blob(['via link']))
  assert.equal(viaLink.error, null, JSON.stringify(viaLink.error))
  assert.equal(await (await files.download(`${alice.id}/linked.txt`)).data.text(), 'via link')
  step('signed upload', { path: viaLink.data.path })

  const mallory = await user()
  const refused = await mallory.supabase.storage.from(bucket).upload(`${alice.id}/planted.txt`, new Blob(['x']))
  assert.ok(refused.error, 'another user may not write into alice\'s folder')
  assert.equal(refused.error.statusCode, '403')
  const hidden = await mallory.supabase.storage.from(bucket).download(`${alice.id}/hello.txt`)
  assert.ok(hidden.error)
  step('refused', { upload: refused.error.statusCode, message: refused.error.message })

  const removed = await files.remove([`${alice.id}/hello.txt`, `${alice.id}/data.bin`, `${alice.id}/linked.txt`])
  assert.equal(removed.error, null)
  assert.equal(removed.data.length, 3)
  step('remove', { removed: removed.data.length })
}

try {
  assert.ok(url && anonKey && bucket, 'SUPABASE_URL, SUPABASE_ANON_KEY and BUCKET are required')
  await main()
  step('done', {})
  process.exit(0)
} catch (error) {
  console.error(error)
  process.exit(1)
}
