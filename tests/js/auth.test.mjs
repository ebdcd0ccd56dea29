// supabase-js (unchanged) against the devstack's /auth/v1. Run by tests/test_auth_js.py:
//   SUPABASE_URL=… SUPABASE_ANON_KEY=… [SUPABASE_SERVICE_ROLE_KEY=…] node tests/js/auth.test.mjs
// Prints one JSON line per step; exits non-zero on the first failure.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { createClient } from '@supabase/supabase-js'
import WebSocket from 'ws'

const url = process.env.SUPABASE_URL
const anonKey = process.env.SUPABASE_ANON_KEY
const serviceKey = process.env.SUPABASE_SERVICE_ROLE_KEY
const password = 'correct-horse-1'

const requested = []
function recordingFetch(input, init) {
  requested.push(String(input instanceof Request ? input.url : input))
  return fetch(input, init)
}

function client(key) {
  // Node 20 has no global WebSocket: supabase-js >= 2.109 needs the `ws` transport.
  return createClient(url, key, {
    global: { fetch: recordingFetch },
    realtime: { transport: WebSocket },
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
  })
}

function email(tag) {
  return `${tag}-${randomUUID().slice(0, 12)}@example.com`
}

function step(name, details) {
  console.log(JSON.stringify({ step: name, ...details }))
}

function expectError(error, status, code) {
  assert.ok(error, `expected an error ${status} ${code}`)
  assert.equal(error.status, status, `status of ${JSON.stringify(error)}`)
  assert.equal(error.code, code, `code of ${JSON.stringify(error)}`)
}

async function userFlow() {
  const supabase = client(anonKey)
  const address = email('js')

  const signUp = await supabase.auth.signUp({ email: address, password, options: { data: { name: 'JS' } } })
  assert.equal(signUp.error, null)
  assert.ok(signUp.data.session, 'auto-confirmed sign-up returns a session')
  assert.equal(signUp.data.user.email, address)
  assert.equal(signUp.data.user.user_metadata.name, 'JS')
  step('signUp', { user: signUp.data.user.id })

  const wrong = await supabase.auth.signInWithPassword({ email: address, password: 'not-the-password' })
  expectError(wrong.error, 400, 'invalid_credentials')
  step('signInWithPassword (wrong password)', { code: wrong.error.code })

  const signIn = await supabase.auth.signInWithPassword({ email: address, password })
  assert.equal(signIn.error, null)
  assert.equal(signIn.data.user.id, signUp.data.user.id)
  assert.ok(signIn.data.session.expires_in > 90)
  step('signInWithPassword', { expires_in: signIn.data.session.expires_in })

  const got = await supabase.auth.getUser()
  assert.equal(got.error, null)
  assert.equal(got.data.user.id, signUp.data.user.id)
  step('getUser', { user: got.data.user.id })

  // An ES256 user token: getClaims() verifies it locally against the JWKS, without asking /user.
  requested.length = 0
  const claims = await supabase.auth.getClaims()
  assert.equal(claims.error, null)
  assert.equal(claims.data.claims.sub, signUp.data.user.id)
  assert.equal(claims.data.claims.role, 'authenticated')
  assert.equal(claims.data.header.alg, 'ES256')
  assert.ok(requested.some((u) => u.endsWith('/auth/v1/.well-known/jwks.json')), JSON.stringify(requested))
  assert.ok(!requested.some((u) => u.endsWith('/auth/v1/user')), JSON.stringify(requested))
  const [head, body] = signIn.data.session.access_token.split('.')
  const forged = `${head}.${body}.${'A'.repeat(86)}`
  const refused = await supabase.auth.getClaims(forged)
  assert.ok(refused.error, 'a token with a wrong signature does not verify')
  step('getClaims', { aal: claims.data.claims.aal, alg: claims.data.header.alg })

  const updated = await supabase.auth.updateUser({ data: { x: 1 } })
  assert.equal(updated.error, null)
  assert.equal(updated.data.user.user_metadata.x, 1)
  step('updateUser', { user_metadata: updated.data.user.user_metadata })

  const before = signIn.data.session.refresh_token
  const refreshed = await supabase.auth.refreshSession()
  assert.equal(refreshed.error, null)
  assert.notEqual(refreshed.data.session.refresh_token, before)
  step('refreshSession', {})

  const accessToken = refreshed.data.session.access_token
  const out = await supabase.auth.signOut()
  assert.equal(out.error, null)
  // The server answers 403 session_not_found, which auth-js turns into AuthSessionMissingError.
  const afterSignOut = await supabase.auth.getUser(accessToken)
  assert.equal(afterSignOut.error?.name, 'AuthSessionMissingError', JSON.stringify(afterSignOut.error))
  step('signOut', { then: afterSignOut.error.name })

  const duplicate = await supabase.auth.signUp({ email: address, password })
  expectError(duplicate.error, 422, 'user_already_exists')
  const weak = await client(anonKey).auth.signUp({ email: email('weak'), password: '123' })
  expectError(weak.error, 422, 'weak_password')
  assert.equal(weak.error.name, 'AuthWeakPasswordError')
  assert.deepEqual(weak.error.reasons, ['length'])
  step('sign-up errors', { duplicate: duplicate.error.code, weak: weak.error.code })
}

async function adminFlow() {
  const admin = client(serviceKey).auth.admin
  const created = await admin.createUser({ email: email('js-admin'), password, email_confirm: true })
  assert.equal(created.error, null)
  const listed = await admin.listUsers({ page: 1, perPage: 1 })
  assert.equal(listed.error, null)
  assert.equal(listed.data.users.length, 1)
  assert.ok(listed.data.total >= 1, 'total parsed from X-Total-Count')
  // auth-js reads only the first digit of each Link page number; same Link as GoTrue, same result.
  assert.equal(listed.data.lastPage, Number(String(listed.data.total)[0]))
  if (listed.data.total > 1) assert.equal(listed.data.nextPage, 2)
  const deleted = await admin.deleteUser(created.data.user.id)
  assert.equal(deleted.error, null)
  const gone = await admin.getUserById(created.data.user.id)
  expectError(gone.error, 404, 'user_not_found')
  step('admin', { total: listed.data.total, nextPage: listed.data.nextPage, lastPage: listed.data.lastPage })
}

try {
  assert.ok(url && anonKey, 'SUPABASE_URL and SUPABASE_ANON_KEY are required')
  await userFlow()
  if (serviceKey) await adminFlow()
  step('done', {})
  process.exit(0)
} catch (error) {
  console.error(error)
  process.exit(1)
}
