// A relay key (np-...) is what users paste into third-party tools: it reaches the relay
// (/v1/novelai/*) and GET /auth/me only. Everything else answers 403 not_allowed ("use a
// signed-in session") and changes nothing: allow_paid, key withdrawal, minting relay keys,
// admin routes, the password, the logs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { poolStack, pstToken, contributor, imageBody, keyOf, Seen, assertNoToken } from './pool_helpers.mjs';

const tokens = [pstToken()];
const seen = new Seen();
let stack;
let owner; // a contributor with one key and one relay key
let admin; // the admin's session and relay key

async function relayKey(session) {
  const r = await stack.api('POST', '/client-keys', { token: session, json: { name: 'tool' } });
  assert.equal(r.status, 201, r.text);
  return r.json.key;
}

function refused(r) {
  assert.equal(r.status, 403, r.text);
  assert.equal(r.json.error, 'not_allowed');
  assert.match(r.json.message, /use a signed-in session/);
}

before(async () => {
  stack = seen.wrap(await poolStack({ tokens: tokens.map((token) => ({ token })) }));
  owner = await contributor(stack, tokens);
  owner.np = await relayKey(owner.token);
  const session = await stack.login(stack.admin.username, stack.admin.password);
  admin = { token: session, np: await relayKey(session) };
});

after(async () => {
  const logs = stack.proc.out + stack.proc.err;
  await stack.stop();
  assertNoToken([...seen.bodies, logs], tokens);
});

test('a relay key cannot set allow_paid: 403 and the key is unchanged', async () => {
  const id = owner.keys[0].id;
  refused(await stack.api('PATCH', `/keys/${id}`, { token: owner.np, json: { allow_paid: true } }));
  const k = await keyOf(stack, owner, id);
  assert.equal(k.allow_paid, false);
});

test('a relay key cannot withdraw a key: 403 and the key is still there', async () => {
  const id = owner.keys[0].id;
  refused(await stack.api('DELETE', `/keys/${id}`, { token: owner.np }));
  assert.ok(await keyOf(stack, owner, id));
});

test('a relay key cannot mint, list or change relay keys, add keys, or read logs', async () => {
  refused(await stack.api('POST', '/client-keys', { token: owner.np, json: { name: 'more' } }));
  refused(await stack.api('GET', '/client-keys', { token: owner.np }));
  refused(await stack.api('PATCH', '/client-keys/1', { token: owner.np, json: { enabled: false } }));
  refused(await stack.api('DELETE', '/client-keys/1', { token: owner.np }));
  refused(await stack.api('POST', '/keys', { token: owner.np, json: { token: pstToken() } }));
  refused(await stack.api('GET', '/keys', { token: owner.np }));
  refused(await stack.api('GET', '/logs', { token: owner.np }));
  refused(await stack.api('GET', '/logs/stats', { token: owner.np }));
  refused(await stack.api('POST', '/auth/password', {
    token: owner.np, json: { old_password: owner.password, new_password: 'x-' + owner.password },
  }));
  // nothing was minted and the password still works
  const list = await stack.api('GET', '/client-keys', { token: owner.token });
  assert.equal(list.json.length, 1);
  assert.ok(await stack.login(owner.username, owner.password));
});

test("an admin's relay key is refused on every admin route", async () => {
  const routes = [
    ['GET', '/admin/users'], ['PATCH', '/admin/users/1'], ['GET', '/admin/keys'],
    ['PATCH', `/admin/keys/${owner.keys[0].id}`], ['POST', `/admin/keys/${owner.keys[0].id}/check`],
    ['GET', '/admin/logs'], ['GET', '/admin/audit'], ['GET', '/admin/config'], ['PUT', '/admin/config'],
    ['GET', '/admin/proxies'], ['POST', '/admin/proxies'], ['GET', '/admin/nodes'], ['GET', '/admin/stats'],
  ];
  for (const [m, p] of routes) {
    const json = m === 'GET' ? undefined : {};
    refused(await stack.api(m, p, { token: admin.np, json }));
  }
  // the same admin signed in still reaches them
  assert.equal((await stack.api('GET', '/admin/users', { token: admin.token })).status, 200);
});

test('a relay key works for GET /auth/me and the relay', async () => {
  const me = await stack.api('GET', '/auth/me', { token: owner.np });
  assert.equal(me.status, 200, me.text);
  assert.equal(me.json.username, owner.username);
  const r = await stack.api('POST', '/v1/novelai/ai/generate-image', { token: owner.np, json: imageBody() });
  assert.equal(r.status, 200, r.text);
  const sub = await stack.api('GET', '/v1/novelai/user/subscription', { token: owner.np });
  assert.equal(sub.status, 200, sub.text);
});
