// Drives kms-mock-server with the real Key Protect Node SDK
// (@ibm-cloud/ibm-key-protect 0.1.2) and checks what the SDK returns.
//
//   node sdk_test.js <path to kms-mock-server>
//
// The server runs on a simulated clock, which the test moves through
// POST /control/clock instead of sleeping. Exits 0 on success, 1 on a
// failed check and 77 (skipped) when the SDK is not installed; install it
// with `npm ci` in this directory (scripts/setup.sh does).
'use strict';

const assert = require('node:assert/strict');
const childProcess = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');

let KeyProtect;
let BearerTokenAuthenticator;
let IamAuthenticator;
try {
  KeyProtect = require('@ibm-cloud/ibm-key-protect/ibm-key-protect-api/v2');
  ({BearerTokenAuthenticator, IamAuthenticator} =
       require('@ibm-cloud/ibm-key-protect/auth'));
} catch (error) {
  console.log('skipped: @ibm-cloud/ibm-key-protect is not installed');
  process.exit(77);
}

const INSTANCE = 'inst-sdk';
const HPCS_INSTANCE = 'inst-sdk-hpcs';
const API_KEY = 'sdk-api-key';

// Starts the server and resolves with it and its URL once it prints the
// line "listening on http://127.0.0.1:<port>".
function startServer(binary, dir) {
  const server = childProcess.spawn(binary, [
    '--tokens', path.join(dir, 'tokens.yaml'),
    '--seed', path.join(dir, 'seed.yaml'),
    '--port', '0', '--clock', 'simulated', '--log-level', 'warn',
  ], {stdio: ['ignore', 'pipe', 'inherit']});
  return new Promise((resolve, reject) => {
    const lines = readline.createInterface({input: server.stdout});
    lines.on('line', (line) => {
      const match = /^listening on (http:\/\/\S+)$/.exec(line);
      if (match) resolve({server, url: match[1]});
    });
    server.on('exit', (code) => {
      reject(new Error(`kms-mock-server exited with ${code} before listening`));
    });
  });
}

// Sends a request to a /control/ endpoint; resolves with status and body.
function control(url, method, target, body) {
  return new Promise((resolve, reject) => {
    const request = http.request(`${url}${target}`, {
      method,
      headers: {'content-type': 'application/json'},
    }, (response) => {
      let text = '';
      response.on('data', (chunk) => text += chunk);
      response.on('end', () => resolve({
        status: response.statusCode,
        body: text ? JSON.parse(text) : null,
      }));
    });
    request.on('error', reject);
    request.end(body ? JSON.stringify(body) : undefined);
  });
}

async function advance(url, duration) {
  const moved = await control(url, 'POST', '/control/clock',
                              {advance: duration});
  assert.equal(moved.status, 200, JSON.stringify(moved.body));
}

// Reads a stream to its end as text.
function readAll(stream) {
  return new Promise((resolve, reject) => {
    let text = '';
    stream.on('data', (chunk) => text += chunk);
    stream.on('end', () => resolve(text));
    stream.on('error', reject);
  });
}

// Returns the HTTP status and Key Protect reason code of a failed SDK call.
async function reasonOf(promise) {
  let error;
  try {
    await promise;
  } catch (caught) {
    error = caught;
  }
  if (!error) throw new Error('call succeeded but was expected to fail');
  // The SDK gives the body as text, except for calls whose Accept header is
  // a Key Protect media type (restoreKey): it then gives the response
  // stream.
  let body = error.body;
  if (body && typeof body.on === 'function') body = await readAll(body);
  const parsed = JSON.parse(body);
  return {status: error.status, code: parsed.resources[0].reasons[0].code};
}

function keyBody(name, extra = {}) {
  return {
    metadata: {
      collectionType: 'application/vnd.ibm.kms.key+json',
      collectionTotal: 1,
    },
    resources: [{type: 'application/vnd.ibm.kms.key+json', name,
                 extractable: false, ...extra}],
  };
}

// The key as GET /keys/{id} returns it.
async function keyOf(client, params) {
  const got = await client.getKey(params);
  assert.equal(got.status, 200);
  return got.result.resources[0];
}

// The root key lifecycle in the order a cluster's operator meets it:
// create, wrap, unwrap, rotate, unwrap an old ciphertext, disable (wrap
// then fails), enable, set for deletion, delete (use then gets 410),
// restore. Each call's result is checked.
async function checkLifecycle(client, url) {
  const params = {bluemixInstance: INSTANCE};

  // Create a root key; dual authorization makes setKeyForDeletion count.
  const created = await client.createKey({
    ...params, body: keyBody('crk', {dualAuthDelete: {enabled: true}}),
  });
  assert.equal(created.status, 201);
  const key = created.result.resources[0];
  assert.equal(key.state, 1);
  assert.equal(key.extractable, false);
  assert.equal(key.payload, undefined, 'a root key never leaves the mock');
  assert.equal(key.dualAuthDelete.enabled, true);
  const id = key.id;
  const firstVersion = key.keyVersion.id;
  const keyParams = {...params, id};

  const listed = await client.getKeys({...params, limit: 10});
  assert.equal(listed.result.metadata.collectionTotal, 1);
  assert.equal(listed.result.resources[0].id, id);

  // Wrap without plaintext: the mock generates a 32-byte DEK.
  const wrapped = await client.wrapKey({...keyParams,
                                        keyActionWrapBody: {aad: ['sdk']}});
  assert.equal(wrapped.status, 200);
  assert.ok(wrapped.result.ciphertext);
  assert.equal(wrapped.result.keyVersion.id, firstVersion);
  const dek = wrapped.result.plaintext;
  assert.equal(Buffer.from(dek, 'base64').length, 32);

  // Unwrap under the current version: the DEK, and no rewrap.
  const unwrapped = await client.unwrapKey({
    ...keyParams,
    keyActionUnwrapBody: {ciphertext: wrapped.result.ciphertext, aad: ['sdk']},
  });
  assert.equal(unwrapped.status, 200);
  assert.equal(unwrapped.result.plaintext, dek);
  assert.equal(unwrapped.result.keyVersion.id, firstVersion);
  assert.equal(unwrapped.result.ciphertext, undefined);
  assert.equal(unwrapped.result.rewrappedKeyVersion, undefined);

  // Rotate: a second version.
  const rotated = await client.rotateKey(keyParams);
  assert.equal(rotated.status, 204);
  const versions = await client.getKeyVersions(keyParams);
  assert.equal(versions.status, 200);
  assert.equal(versions.result.resources.length, 2);
  const secondVersion = (await keyOf(client, keyParams)).keyVersion.id;
  assert.notEqual(secondVersion, firstVersion);

  // Unwrap the ciphertext of the old version: the same DEK, rewrapped under
  // the new version.
  const unwrappedOld = await client.unwrapKey({
    ...keyParams,
    keyActionUnwrapBody: {ciphertext: wrapped.result.ciphertext, aad: ['sdk']},
  });
  assert.equal(unwrappedOld.status, 200);
  assert.equal(unwrappedOld.result.plaintext, dek);
  assert.equal(unwrappedOld.result.keyVersion.id, firstVersion);
  assert.equal(unwrappedOld.result.rewrappedKeyVersion.id, secondVersion);
  assert.ok(unwrappedOld.result.ciphertext);
  assert.notEqual(unwrappedOld.result.ciphertext, wrapped.result.ciphertext);
  const rewrappedDek = await client.unwrapKey({
    ...keyParams,
    keyActionUnwrapBody: {ciphertext: unwrappedOld.result.ciphertext,
                          aad: ['sdk']},
  });
  assert.equal(rewrappedDek.result.plaintext, dek);
  assert.equal(rewrappedDek.result.keyVersion.id, secondVersion);

  const rewrapped = await client.rewrapKey({
    ...keyParams,
    keyActionRewrapBody: {ciphertext: wrapped.result.ciphertext,
                          aad: ['sdk']},
  });
  assert.equal(rewrapped.status, 200);
  assert.equal(rewrapped.result.rewrappedKeyVersion.id, secondVersion);

  // Without the AAD the ciphertext does not open.
  assert.deepEqual(
      await reasonOf(client.unwrapKey({
        ...keyParams,
        keyActionUnwrapBody: {ciphertext: wrapped.result.ciphertext},
      })),
      {status: 422, code: 'UNPROCESSABLE_CIPHERTEXT_ERR'});

  // Disable: wrap and unwrap fail with 409 KEY_ACTION_INVALID_STATE_ERR.
  assert.equal((await client.disableKey(keyParams)).status, 204);
  assert.equal((await keyOf(client, keyParams)).state, 2);
  assert.deepEqual(await reasonOf(client.wrapKey(keyParams)),
                   {status: 409, code: 'KEY_ACTION_INVALID_STATE_ERR'});
  assert.deepEqual(
      await reasonOf(client.unwrapKey({
        ...keyParams,
        keyActionUnwrapBody: {ciphertext: wrapped.result.ciphertext,
                              aad: ['sdk']},
      })),
      {status: 409, code: 'KEY_ACTION_INVALID_STATE_ERR'});

  // Enable: refused within 30 s of the disable, then allowed.
  assert.deepEqual(await reasonOf(client.enableKey(keyParams)),
                   {status: 409, code: 'REQ_TOO_EARLY_ERR'});
  assert.equal((await keyOf(client, keyParams)).state, 2);
  await advance(url, '31s');
  assert.equal((await client.enableKey(keyParams)).status, 204);
  assert.equal((await keyOf(client, keyParams)).state, 1);
  assert.equal((await client.wrapKey(keyParams)).status, 200);

  const registrations = await client.getRegistrations(keyParams);
  assert.equal(registrations.status, 200);
  assert.equal(registrations.result.metadata.collectionTotal, 0);
  const all = await client.getRegistrationsAllKeys({...params});
  assert.equal(all.status, 200);

  // Delete needs the second authorization of setKeyForDeletion.
  assert.deepEqual(await reasonOf(client.deleteKey(keyParams)),
                   {status: 409, code: 'AUTHORIZATIONS_NOT_MET'});
  assert.equal((await client.setKeyForDeletion(keyParams)).status, 204);
  const authorized = await keyOf(client, keyParams);
  assert.equal(authorized.dualAuthDelete.keySetForDeletion, true);
  assert.ok(authorized.dualAuthDelete.authExpiration);

  assert.equal((await client.deleteKey(keyParams)).status, 204);
  const metadata = await client.getKeyMetadata(keyParams);
  assert.equal(metadata.status, 200);
  assert.equal(metadata.result.resources[0].state, 5);
  assert.equal(metadata.result.resources[0].deleted, true);
  // Every use of the deleted key gets 410 KEY_DELETED_ERR.
  const gone = {status: 410, code: 'KEY_DELETED_ERR'};
  assert.deepEqual(await reasonOf(client.getKey(keyParams)), gone);
  assert.deepEqual(await reasonOf(client.wrapKey(keyParams)), gone);
  assert.deepEqual(
      await reasonOf(client.unwrapKey({
        ...keyParams,
        keyActionUnwrapBody: {ciphertext: wrapped.result.ciphertext,
                              aad: ['sdk']},
      })),
      gone);
  assert.deepEqual(await reasonOf(client.rotateKey(keyParams)), gone);

  // Restore: refused within 30 s of the delete, then the key is Active with
  // both versions, and the old ciphertext opens again.
  assert.deepEqual(await reasonOf(client.restoreKey(keyParams)),
                   {status: 409, code: 'REQ_TOO_EARLY_ERR'});
  await advance(url, '31s');
  const restored = await client.restoreKey(keyParams);
  assert.equal(restored.status, 201);
  const after = await keyOf(client, keyParams);
  assert.equal(after.state, 1);
  assert.equal(after.keyVersion.id, secondVersion);
  const unwrappedRestored = await client.unwrapKey({
    ...keyParams,
    keyActionUnwrapBody: {ciphertext: wrapped.result.ciphertext, aad: ['sdk']},
  });
  assert.equal(unwrappedRestored.result.plaintext, dek);
  return id;
}

// An injected error reaches the SDK with its status and reason, and stops
// once the fault is removed.
async function checkInjectedFault(client, url, id) {
  const params = {bluemixInstance: INSTANCE, id};
  const added = await control(url, 'POST', '/control/faults', {
    kind: 'error', operation: 'wrap', key: id, status: 503,
    reason: 'SERVICE_UNAVAILABLE_ERR',
  });
  assert.equal(added.status, 201, JSON.stringify(added.body));

  assert.deepEqual(await reasonOf(client.wrapKey(params)),
                   {status: 503, code: 'SERVICE_UNAVAILABLE_ERR'});
  const fault = await control(url, 'GET', `/control/faults/${added.body.id}`);
  assert.equal(fault.body.hits, 1);

  const removed = await control(url, 'DELETE',
                                `/control/faults/${added.body.id}`);
  assert.equal(removed.status, 204);
  assert.equal((await client.wrapKey(params)).status, 200);
}

// The SDK's IamAuthenticator exchanges the API key at /identity/token and
// uses the token on a Hyper Protect Crypto Services instance.
async function checkIamOnHpcs(url) {
  const client = new KeyProtect({
    authenticator: new IamAuthenticator({apikey: API_KEY, url}),
    serviceUrl: url,
  });
  const params = {bluemixInstance: HPCS_INSTANCE};

  const created = await client.createKey({...params, body: keyBody('hs-crk')});
  assert.equal(created.status, 201);
  const key = created.result.resources[0];
  assert.match(key.crn, /:hs-crypto:/);
  const wrapped = await client.wrapKey({...params, id: key.id});
  const unwrapped = await client.unwrapKey({
    ...params, id: key.id,
    keyActionUnwrapBody: {ciphertext: wrapped.result.ciphertext},
  });
  assert.equal(unwrapped.result.plaintext, wrapped.result.plaintext);

  const instances = await control(url, 'GET', '/control/instances');
  const types = Object.fromEntries(
      instances.body.instances.map((i) => [i.id, i.type]));
  assert.deepEqual(types, {[INSTANCE]: 'key-protect', [HPCS_INSTANCE]: 'hpcs'});

  const wrongKey = new KeyProtect({
    authenticator: new IamAuthenticator({apikey: 'not-a-key', url}),
    serviceUrl: url,
  });
  await assert.rejects(wrongKey.getKeys(params), (error) => {
    assert.equal(error.status, 400);
    return true;
  });
}

async function main() {
  const binary = process.argv[2];
  if (!binary) {
    console.error('usage: node sdk_test.js <path to kms-mock-server>');
    process.exit(2);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kms-sdk-'));
  fs.writeFileSync(path.join(dir, 'tokens.yaml'),
                   'tokens:\n  - token: sdk-token\n    role: Manager\n' +
                   `    apikey: ${API_KEY}\n`);
  fs.writeFileSync(path.join(dir, 'seed.yaml'),
                   `instances:\n  - id: ${INSTANCE}\n    name: sdk\n` +
                   `  - id: ${HPCS_INSTANCE}\n    name: sdk-hpcs\n` +
                   '    type: hpcs\n');

  let server;
  let failed = false;
  try {
    let url;
    ({server, url} = await startServer(binary, dir));
    const client = new KeyProtect({
      authenticator: new BearerTokenAuthenticator({bearerToken: 'sdk-token'}),
      serviceUrl: url,
    });
    const id = await checkLifecycle(client, url);
    await checkInjectedFault(client, url, id);
    await checkIamOnHpcs(url);
    console.log('ok: the Key Protect Node SDK works against kms-mock-server');
  } catch (error) {
    failed = true;
    console.error('FAILED:', error);
  } finally {
    if (server) server.kill('SIGTERM');
    fs.rmSync(dir, {recursive: true, force: true});
  }
  process.exit(failed ? 1 : 0);
}

main();
