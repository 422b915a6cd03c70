'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync, spawnSync } = require('node:child_process');

const CLI = path.join(__dirname, 'sign_fixture.js');
const hmacHex = (secret, message) =>
  crypto.createHmac('sha256', Buffer.from(secret, 'utf8')).update(Buffer.from(message, 'utf8')).digest('hex');
const run = (args, input) => JSON.parse(execFileSync(process.execPath, [CLI, ...args], { input, encoding: 'utf8' }));

test('sign_fixture signs a body file with the script\'s own functions', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sheetai-sign-'));
  const file = path.join(dir, 'body.json');
  const body = '{"spreadsheet_id":"abc","step":"Café","force":false}\n';
  fs.writeFileSync(file, body, 'utf8');
  const out = run(['--secret', 's3cret-s3cret-s3cret', '--timestamp', '1700000000', '--sheet', 'abc', '--body-file', file]);
  assert.deepEqual(out, {
    timestamp: 1700000000,
    signature: hmacHex('s3cret-s3cret-s3cret', `1700000000.${body}`),
    headers: {
      'X-Sheetai-Sheet': 'abc',
      'X-Sheetai-Timestamp': '1700000000',
      'X-Sheetai-Signature': hmacHex('s3cret-s3cret-s3cret', `1700000000.${body}`),
    },
  });
});

test('sign_fixture reads stdin, signs an empty body like a GET, defaults the timestamp to now', () => {
  const before = Math.floor(Date.now() / 1000);
  const out = run(['--secret', 'k'], '');
  assert.ok(out.timestamp >= before && out.timestamp <= before + 5);
  assert.equal(out.signature, hmacHex('k', `${out.timestamp}.`));
  assert.equal(out.headers['X-Sheetai-Sheet'], 'fixture-sheet');
});

test('sign_fixture rejects bad arguments', () => {
  const result = spawnSync(process.execPath, [CLI, '--timestamp', 'soon', '--secret', 'k'], { input: '', encoding: 'utf8' });
  assert.equal(result.status, 2);
  assert.match(result.stderr, /unix seconds/);
  const missing = spawnSync(process.execPath, [CLI], { input: '', encoding: 'utf8' });
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /--secret is required/);
});
