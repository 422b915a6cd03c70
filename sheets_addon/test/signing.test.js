'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { loadScript, plain, assertSigned } = require('./harness');

const SECRET = 'correct-horse-battery-staple-42';
const hmacHex = (secret, message) =>
  crypto.createHmac('sha256', Buffer.from(secret, 'utf8')).update(Buffer.from(message, 'utf8')).digest('hex');

test('hexFromSignedBytes_ turns Apps Script signed bytes into lowercase hex', () => {
  const { script } = loadScript();
  assert.equal(script.hexFromSignedBytes_([-1, 0, 15, 16, 127, -128, -127]), 'ff000f107f8081');
  assert.equal(script.hexFromSignedBytes_([]), '');
});

test('signRequest_ is HMAC-SHA256 of "<timestamp>.<body>" in lowercase hex', () => {
  const { script } = loadScript();
  const body = '{"spreadsheet_id":"abc","step":null,"force":false}';
  assert.equal(script.signRequest_(SECRET, 1700000000, body), hmacHex(SECRET, `1700000000.${body}`));
  assert.match(script.signRequest_(SECRET, 1700000000, body), /^[0-9a-f]{64}$/);
});

test('a GET signs an empty body: "<timestamp>."', () => {
  const { script } = loadScript();
  assert.equal(script.signRequest_(SECRET, 1700000001, ''), hmacHex(SECRET, '1700000001.'));
  assert.equal(script.signRequest_(SECRET, 1700000001, null), hmacHex(SECRET, '1700000001.'));
});

test('non-ASCII bodies and secrets are signed as UTF-8', () => {
  const { script } = loadScript();
  const body = '{"text":"Café ☕ 東京 😀"}';
  const secret = 'sécret-ключ-0123456789';
  assert.equal(script.signRequest_(secret, 1700000002, body), hmacHex(secret, `1700000002.${body}`));
});

test('asciiJson_ escapes every non-ASCII character and round-trips', () => {
  const { script } = loadScript();
  const value = { text: 'Café ☕ 東京 😀 \u007f', labels: ['naïve', 'ok'], n: 1, none: null };
  const json = script.asciiJson_(value);
  assert.match(json, /^[\x00-\x7e]*$/);
  assert.deepEqual(JSON.parse(json), value);
  assert.ok(json.includes('Caf\\u00e9'));
  assert.ok(json.includes('\\ud83d\\ude00'), 'astral characters become surrogate pairs');
});

test('buildRequest_ for a POST sends exactly the string it signed', () => {
  const { script } = loadScript();
  const settings = { url: 'https://sheetai.example.com/', secret: SECRET };
  const body = { spreadsheet_id: 'sheet-1', step: 'Sentiment ✓', force: false };
  const request = plain(script.buildRequest_(settings, 'sheet-1', 'post', '/v1/sync', body, 1700000003));
  assert.equal(request.url, 'https://sheetai.example.com/v1/sync');
  assert.equal(request.method, 'post');
  assert.equal(request.contentType, 'application/json');
  assert.equal(request.muteHttpExceptions, true);
  assert.deepEqual(JSON.parse(request.payload), body);
  assertSigned(assert, request, { secret: SECRET, sheetId: 'sheet-1' });
  assert.equal(request.headers['X-Sheetai-Timestamp'], '1700000003');
});

test('buildRequest_ for a GET has no payload and signs "<timestamp>."', () => {
  const { script } = loadScript();
  const settings = { url: 'https://h.example/base', secret: SECRET };
  const request = plain(script.buildRequest_(settings, 's', 'GET', '/v1/jobs/j1', null, 1700000004));
  assert.equal(request.url, 'https://h.example/base/v1/jobs/j1');
  assert.equal(request.method, 'get');
  assert.equal(request.payload, undefined);
  assert.equal(request.contentType, undefined);
  assert.equal(request.headers['X-Sheetai-Signature'], hmacHex(SECRET, '1700000004.'));
});

test('signedHeaders_ names the three headers exactly', () => {
  const { script } = loadScript();
  const headers = plain(script.signedHeaders_('sheet-9', SECRET, 1700000005, 'x'));
  assert.deepEqual(headers, {
    'X-Sheetai-Sheet': 'sheet-9',
    'X-Sheetai-Timestamp': '1700000005',
    'X-Sheetai-Signature': hmacHex(SECRET, '1700000005.x'),
  });
});

test('small pure helpers', () => {
  const { script } = loadScript();
  assert.equal(script.thousands_(1234567), '1,234,567');
  assert.equal(script.thousands_(12), '12');
  assert.equal(script.formatCost_(0.012345), '$0.0123');
  assert.equal(script.formatCost_(12.5), '$12.50');
  assert.equal(script.joinUrl_('https://a.example//', '//v1/sync'), 'https://a.example/v1/sync');
  assert.equal(script.normaliseUrl_(' https://a.example/sheetai/ '), 'https://a.example/sheetai');
  assert.equal(script.maskSecret_(''), '(not set)');
  assert.ok(!script.maskSecret_(SECRET).includes(SECRET.slice(0, 8)));
});
