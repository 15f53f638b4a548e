// Drives kms-mock-server with the real Key Protect Node SDK
// (@ibm-cloud/ibm-key-protect 0.1.2) and checks what the SDK returns.
//
//   node sdk_test.js <path to kms-mock-server>
//
// Exits 0 on success, 1 on a failed check and 77 (skipped) when the SDK is
// not installed; install it with `npm install` in this directory.
'use strict';

const assert = require('node:assert/strict');
const childProcess = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

let KeyProtect;
let BearerTokenAuthenticator;
try {
  KeyProtect = require('@ibm-cloud/ibm-key-protect/ibm-key-protect-api/v2');
  ({BearerTokenAuthenticator} = require('@ibm-cloud/ibm-key-protect/auth'));
} catch (error) {
  console.log('skipped: @ibm-cloud/ibm-key-protect is not installed');
  process.exit(77);
}

const INSTANCE = 'inst-sdk';
// Virtual seconds per wall-clock second, so that the 30-second guards of
// enable and restore pass in half a second.
const SPEED = 60;

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const {port} = server.address();
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

async function waitForPort(port) {
  for (let attempt = 0; attempt < 100; attempt++) {
    const connected = await new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.end();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (connected) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`kms-mock-server did not listen on port ${port}`);
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// Returns the Key Protect reason code of a failed SDK call.
async function reasonOf(promise) {
  try {
    await promise;
  } catch (error) {
    const body = error.body ? JSON.parse(error.body) : {};
    return {status: error.status, code: body.resources[0].reasons[0].code};
  }
  throw new Error('call succeeded but was expected to fail');
}

async function runChecks(client) {
  const params = {bluemixInstance: INSTANCE};

  const created = await client.createKey({
    ...params,
    body: {
      metadata: {
        collectionType: 'application/vnd.ibm.kms.key+json',
        collectionTotal: 1,
      },
      resources: [{type: 'application/vnd.ibm.kms.key+json', name: 'crk',
                   extractable: false}],
    },
  });
  assert.equal(created.status, 201);
  const key = created.result.resources[0];
  assert.equal(key.state, 1);
  const id = key.id;

  const listed = await client.getKeys({...params, limit: 10});
  assert.equal(listed.result.metadata.collectionTotal, 1);
  assert.equal(listed.result.resources[0].id, id);

  const wrapped = await client.wrapKey({...params, id,
                                        keyActionWrapBody: {aad: ['sdk']}});
  assert.equal(wrapped.status, 200);
  assert.ok(wrapped.result.ciphertext);
  const dek = wrapped.result.plaintext;

  const rotated = await client.rotateKey({...params, id});
  assert.equal(rotated.status, 204);
  const unwrapped = await client.unwrapKey({
    ...params, id,
    keyActionUnwrapBody: {ciphertext: wrapped.result.ciphertext, aad: ['sdk']},
  });
  assert.equal(unwrapped.result.plaintext, dek);
  assert.ok(unwrapped.result.ciphertext, 'old-version unwrap rewraps');
  assert.notEqual(unwrapped.result.rewrappedKeyVersion.id,
                  unwrapped.result.keyVersion.id);

  const rewrapped = await client.rewrapKey({
    ...params, id,
    keyActionRewrapBody: {ciphertext: wrapped.result.ciphertext,
                          aad: ['sdk']},
  });
  assert.ok(rewrapped.result.ciphertext);

  const versions = await client.getKeyVersions({...params, id});
  assert.equal(versions.result.resources.length, 2);

  assert.deepEqual(
      await reasonOf(client.unwrapKey({
        ...params, id,
        keyActionUnwrapBody: {ciphertext: wrapped.result.ciphertext},
      })),
      {status: 422, code: 'UNPROCESSABLE_CIPHERTEXT_ERR'});

  assert.equal((await client.disableKey({...params, id})).status, 204);
  assert.deepEqual(await reasonOf(client.wrapKey({...params, id})),
                   {status: 409, code: 'KEY_ACTION_INVALID_STATE_ERR'});
  assert.deepEqual(await reasonOf(client.enableKey({...params, id})),
                   {status: 409, code: 'REQ_TOO_EARLY_ERR'});
  await sleep((31 / SPEED) * 1000);
  assert.equal((await client.enableKey({...params, id})).status, 204);

  const registrations = await client.getRegistrations({...params, id});
  assert.equal(registrations.status, 200);
  const all = await client.getRegistrationsAllKeys({...params});
  assert.equal(all.status, 200);

  assert.equal((await client.deleteKey({...params, id})).status, 204);
  assert.deepEqual(await reasonOf(client.getKey({...params, id})),
                   {status: 410, code: 'KEY_DELETED_ERR'});
  const metadata = await client.getKeyMetadata({...params, id});
  assert.equal(metadata.result.resources[0].state, 5);
  await sleep((31 / SPEED) * 1000);
  const restored = await client.restoreKey({...params, id});
  assert.equal(restored.status, 201);
  const after = await client.getKey({...params, id});
  assert.equal(after.result.resources[0].state, 1);
}

async function main() {
  const binary = process.argv[2];
  if (!binary) {
    console.error('usage: node sdk_test.js <path to kms-mock-server>');
    process.exit(2);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kms-sdk-'));
  fs.writeFileSync(path.join(dir, 'tokens.yaml'),
                   'tokens:\n  - token: sdk-token\n    role: Manager\n');
  fs.writeFileSync(path.join(dir, 'seed.yaml'),
                   `instances:\n  - id: ${INSTANCE}\n    name: sdk\n`);
  const port = await freePort();
  const server = childProcess.spawn(binary, [
    '--tokens', path.join(dir, 'tokens.yaml'),
    '--seed', path.join(dir, 'seed.yaml'),
    '--port', String(port), '--speed', String(SPEED),
    '--log-level', 'warn',
  ], {stdio: 'inherit'});

  let failed = false;
  try {
    await waitForPort(port);
    const client = new KeyProtect({
      authenticator: new BearerTokenAuthenticator({bearerToken: 'sdk-token'}),
      serviceUrl: `http://127.0.0.1:${port}`,
    });
    await runChecks(client);
    console.log('ok: the Key Protect Node SDK works against kms-mock-server');
  } catch (error) {
    failed = true;
    console.error('FAILED:', error);
  } finally {
    server.kill('SIGTERM');
    fs.rmSync(dir, {recursive: true, force: true});
  }
  process.exit(failed ? 1 : 0);
}

main();
