// Drives apiserver-test-server with the real Kubernetes Node client
// (@kubernetes/client-node 1.x) over HTTPS: list, create, replace and watch
// Secrets, the conflict of a stale replace, a wrong token and a client that
// does not trust the server's CA.
//
//   node client_node_test.js <path to apiserver-test-server>
//
// Exits 0 on success, 1 on a failed check and 77 (skipped) when the client
// is not installed; install it with `npm ci` in this directory
// (scripts/setup.sh does).
'use strict';

const assert = require('node:assert/strict');
const childProcess = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');

let k8s;
try {
  k8s = require('@kubernetes/client-node');
} catch (error) {
  console.log('skipped: @kubernetes/client-node is not installed');
  process.exit(77);
}

const NAMESPACE = 'default';

// Starts the server with a KMS v2 provider and resolves with it and its
// URL once it prints "ready <url>".
function startServer(binary, dir) {
  const server = childProcess.spawn(binary, ['--dir', dir, '--kms'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    const lines = readline.createInterface({input: server.stdout});
    lines.on('line', (line) => {
      const match = /^ready (\S+)$/.exec(line);
      if (match) resolve({server, url: match[1]});
    });
    server.on('exit', (code) => {
      reject(new Error(`apiserver-test-server exited with ${code}`));
    });
  });
}

function base64(text) {
  return Buffer.from(text).toString('base64');
}

function decoded(secret, key) {
  return Buffer.from(secret.data[key], 'base64').toString();
}

// Collects the events of a watch and resolves waiters when an event that
// they expect arrives.
class EventLog {
  constructor() {
    this.events = [];
    this.waiters = [];
  }

  add(type, object) {
    this.events.push(`${type} ${object.metadata.name}`);
    this.waiters = this.waiters.filter(({event, resolve}) => {
      if (!this.events.includes(event)) return true;
      resolve();
      return false;
    });
  }

  // Resolves once `event` ("ADDED s1") has arrived.
  waitFor(event) {
    if (this.events.includes(event)) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({event, resolve}));
  }
}

// Resolves with the ApiException of `promise`, or fails if it succeeds.
async function rejection(promise) {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail('the request succeeded');
}

async function checkSecrets(kubeConfig) {
  const core = kubeConfig.makeApiClient(k8s.CoreV1Api);
  const events = new EventLog();

  const empty = await core.listNamespacedSecret({namespace: NAMESPACE});
  assert.deepEqual(empty.items, []);
  const watch = new k8s.Watch(kubeConfig);
  let watchError = null;
  const controller = await watch.watch(
      `/api/v1/namespaces/${NAMESPACE}/secrets`,
      {resourceVersion: empty.metadata.resourceVersion},
      (type, object) => events.add(type, object),
      (error) => watchError = error);

  const created = await core.createNamespacedSecret({
    namespace: NAMESPACE,
    body: {
      metadata: {name: 'db', labels: {app: 'web'}},
      stringData: {password: 'hunter2'},
    },
  });
  assert.equal(created.metadata.name, 'db');
  assert.equal(created.type, 'Opaque');
  assert.equal(decoded(created, 'password'), 'hunter2');
  assert.ok(created.metadata.uid);
  assert.ok(created.metadata.resourceVersion);
  assert.ok(created.metadata.creationTimestamp instanceof Date);

  const listed = await core.listNamespacedSecret({
    namespace: NAMESPACE, labelSelector: 'app=web'});
  assert.deepEqual(listed.items.map((s) => s.metadata.name), ['db']);
  assert.equal(decoded(listed.items[0], 'password'), 'hunter2');
  const everywhere = await core.listSecretForAllNamespaces();
  assert.deepEqual(
      everywhere.items.map((s) => `${s.metadata.namespace}/${s.metadata.name}`),
      ['default/db']);

  const changed = structuredClone(created);
  changed.data = {password: base64('rotated'), user: base64('admin')};
  const replaced = await core.replaceNamespacedSecret(
      {name: 'db', namespace: NAMESPACE, body: changed});
  assert.equal(decoded(replaced, 'password'), 'rotated');
  assert.equal(decoded(replaced, 'user'), 'admin');
  assert.notEqual(replaced.metadata.resourceVersion,
                  created.metadata.resourceVersion);

  // `created` still carries the first resourceVersion.
  const conflict = await rejection(core.replaceNamespacedSecret(
      {name: 'db', namespace: NAMESPACE, body: created}));
  assert.equal(conflict.code, 409);
  const status = JSON.parse(conflict.body);
  assert.equal(status.reason, 'Conflict');
  assert.equal(status.message,
               'Operation cannot be fulfilled on secrets "db": the object ' +
               'has been modified; please apply your changes to the latest ' +
               'version and try again');
  const read = await core.readNamespacedSecret({name: 'db', namespace: NAMESPACE});
  assert.equal(decoded(read, 'password'), 'rotated');

  const missing = await rejection(
      core.readNamespacedSecret({name: 'none', namespace: NAMESPACE}));
  assert.equal(missing.code, 404);
  assert.equal(JSON.parse(missing.body).message, 'secrets "none" not found');

  await core.deleteNamespacedSecret({name: 'db', namespace: NAMESPACE});
  await events.waitFor('DELETED db');
  // The watch ran without error until now; aborting it reports AbortError.
  assert.equal(watchError, null);
  controller.abort();
  assert.deepEqual(events.events, ['ADDED db', 'MODIFIED db', 'DELETED db']);
}

async function checkWrongToken(kubeConfigPath) {
  const other = new k8s.KubeConfig();
  other.loadFromString(
      fs.readFileSync(kubeConfigPath, 'utf8')
          .replace(/token: \S+/, 'token: not-the-admin-token'));
  const core = other.makeApiClient(k8s.CoreV1Api);
  const error = await rejection(core.listNamespacedSecret({namespace: NAMESPACE}));
  // The client keeps no body for the 401 that the API documents.
  assert.equal(error.code, 401);
  assert.match(error.message, /Unauthorized/);
}

async function checkUntrustedCa(kubeConfigPath) {
  const other = new k8s.KubeConfig();
  other.loadFromString(
      fs.readFileSync(kubeConfigPath, 'utf8')
          .replace(/^ *certificate-authority-data: \S+\n/m, ''));
  const core = other.makeApiClient(k8s.CoreV1Api);
  const error = await rejection(core.listNamespacedSecret({namespace: NAMESPACE}));
  assert.match(String(error.message), /self[- ]signed|unable to (get|verify)/i);
}

async function main() {
  const binary = process.argv[2];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'apiserver-node-'));
  const {server, url} = await startServer(binary, dir);
  try {
    assert.match(url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const kubeConfigPath = path.join(dir, 'kubeconfig');
    const kubeConfig = new k8s.KubeConfig();
    kubeConfig.loadFromFile(kubeConfigPath);
    assert.equal(kubeConfig.getCurrentCluster().server, url);
    await checkSecrets(kubeConfig);
    await checkWrongToken(kubeConfigPath);
    await checkUntrustedCa(kubeConfigPath);
    console.log('client-node: every check passed');
  } finally {
    server.stdin.end();
    await new Promise((resolve) => server.on('exit', resolve));
    fs.rmSync(dir, {recursive: true, force: true});
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
