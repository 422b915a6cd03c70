'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { loadScript, assertSigned, START_MS } = require('./harness');

const SECRET = 'per-sheet-secret-0123456789abcdef';
const URL_ = 'https://sheetai.example.com';
const SHEET_ID = '1SheetIdForTests_abcdefghijklmnopqrstuvwx';
const SETTINGS = { SHEETAI_URL: URL_, SHEETAI_SECRET: SECRET };

const SUMMARY = {
  planned: 130, processed: 120, skipped_unchanged: 10, kept_human_edits: 2, failed: 1, flagged: 3,
  tokens: 12345, cost_usd: 0.0123, seconds: 42.1,
  steps: [
    { step: 'Sentiment', planned: 100, processed: 95, skipped_unchanged: 5, kept_human_edits: 2, failed: 1, flagged: 3, tokens: 10000, cost_usd: 0.01, seconds: 30 },
    { step: 'Topic', planned: 30, processed: 25, skipped_unchanged: 5, kept_human_edits: 0, failed: 0, flagged: 0, tokens: 2345, cost_usd: 0.0023, seconds: 12.1 },
  ],
};

/** A scripted service: POST /v1/sync starts job j-1, then each GET returns the next state. */
function scriptedService(jobStates) {
  const states = jobStates.slice();
  return (request) => {
    if (request.method === 'post' && request.url === `${URL_}/v1/sync`) {
      return { code: 202, body: { job_id: 'j-1', status: 'queued' } };
    }
    if (request.method === 'get' && request.url === `${URL_}/v1/jobs/j-1`) {
      const next = states.length > 1 ? states.shift() : states[0];
      return { code: 200, body: Object.assign({ job_id: 'j-1', summary: null, error: null }, next) };
    }
    return { code: 404, body: { detail: 'Not Found' } };
  };
}

test('Sync now posts the signed body, polls until done and alerts the summary', () => {
  const { script, state } = loadScript({
    sheetId: SHEET_ID,
    properties: SETTINGS,
    service: scriptedService([
      { status: 'queued', progress: { step: null, done: 0, total: 0 } },
      { status: 'running', progress: { step: 'Sentiment', done: 40, total: 100 } },
      { status: 'running', progress: { step: 'Sentiment', done: 40, total: 100 } },
      { status: 'running', progress: { step: 'Topic', done: 10, total: 30 } },
      { status: 'done', progress: { step: 'Topic', done: 30, total: 30 }, summary: SUMMARY },
    ]),
  });
  script.sheetaiSyncNow();

  const [post, ...polls] = state.requests;
  assert.equal(post.url, `${URL_}/v1/sync`);
  assert.equal(post.method, 'post');
  assert.equal(post.contentType, 'application/json');
  assert.equal(post.payload, `{"spreadsheet_id":"${SHEET_ID}","step":null,"force":false}`);
  assert.deepEqual(JSON.parse(post.payload), { spreadsheet_id: SHEET_ID, step: null, force: false });
  assertSigned(assert, post, { secret: SECRET, sheetId: SHEET_ID, nowMs: START_MS });

  assert.equal(polls.length, 5);
  const stamps = polls.map((poll) => {
    assert.equal(poll.url, `${URL_}/v1/jobs/j-1`);
    assert.equal(poll.payload, undefined);
    return assertSigned(assert, poll, { secret: SECRET, sheetId: SHEET_ID, nowMs: poll.at });
  });
  assert.equal(new Set(stamps).size, stamps.length, 'no two polls share a timestamp (replay rule)');
  assert.ok(state.clock.sleeps.every((ms) => ms >= 1100));

  const toasts = state.toasts.map((t) => t.message);
  assert.ok(toasts.includes('step "Sentiment": 40/100 rows'));
  assert.ok(toasts.includes('step "Topic": 10/30 rows'));
  assert.equal(toasts.filter((t) => t === 'step "Sentiment": 40/100 rows').length, 1, 'unchanged progress is not re-toasted');

  assert.equal(state.alerts.length, 1);
  const { title, message } = state.alerts[0];
  assert.match(title, /Sync finished/);
  assert.ok(message.includes('120 of 130 planned rows processed'), message);
  assert.ok(message.includes('10 unchanged'));
  assert.ok(message.includes('2 human edits kept'));
  assert.ok(message.includes('1 failed'));
  assert.ok(message.includes('3 flagged'));
  assert.ok(message.includes('12,345 tokens'));
  assert.ok(message.includes('$0.0123'));
  assert.ok(message.includes('42.1 s'));
  assert.ok(message.includes('• Sentiment: 95 of 100'));
  assert.ok(message.includes('• Topic: 25 of 30'));
});

test('Sync step… sends the step name from the prompt', () => {
  const { script, state } = loadScript({
    sheetId: SHEET_ID,
    properties: SETTINGS,
    promptAnswers: [{ text: '  Sentiment  ' }],
    service: scriptedService([{ status: 'done', progress: { step: 'Sentiment', done: 1, total: 1 }, summary: SUMMARY }]),
  });
  script.sheetaiSyncStep();
  assert.deepEqual(JSON.parse(state.requests[0].payload), { spreadsheet_id: SHEET_ID, step: 'Sentiment', force: false });
  assert.match(state.alerts[0].title, /Sync finished/);
});

test('Sync step… cancelled sends nothing', () => {
  const { script, state } = loadScript({ properties: SETTINGS, promptAnswers: [{ button: 'CANCEL' }] });
  script.sheetaiSyncStep();
  assert.equal(state.requests.length, 0);
  assert.equal(state.alerts.length, 0);
});

test('Sync without settings says to open Settings…', () => {
  const { script, state } = loadScript();
  script.sheetaiSyncNow();
  assert.equal(state.requests.length, 0);
  assert.match(state.alerts[0].message, /not set up yet: open sheetai ▸ Settings…/);
});

test('a 401 is retried once in a new second, then alerts about the secret and the clock', () => {
  const { script, state } = loadScript({
    properties: SETTINGS,
    service: () => ({ code: 401, body: { detail: 'bad signature' } }),
  });
  script.sheetaiSyncNow();
  assert.equal(state.requests.length, 2);
  const [a, b] = state.requests.map((r) => r.headers['X-Sheetai-Timestamp']);
  assert.notEqual(a, b);
  assert.notEqual(state.requests[0].headers['X-Sheetai-Signature'], state.requests[1].headers['X-Sheetai-Signature']);
  const { message } = state.alerts[0];
  assert.match(message, /refused the signature \(401\)/);
  assert.match(message, /secret/);
  assert.match(message, /clock/);
  assert.match(message, /bad signature/);
});

test('a replayed-signature 401 succeeds on the retry', () => {
  let first = true;
  const states = scriptedService([{ status: 'done', progress: null, summary: SUMMARY }]);
  const { script, state } = loadScript({
    properties: SETTINGS,
    service: (request) => {
      if (first) {
        first = false;
        return { code: 401, body: { detail: 'replayed request' } };
      }
      return states(request);
    },
  });
  script.sheetaiSyncNow();
  assert.match(state.alerts[0].title, /Sync finished/);
});

test('an unreachable service gives a readable alert', () => {
  const { script, state } = loadScript({
    properties: SETTINGS,
    service: () => {
      throw new Error('Exception: Address unavailable: https://sheetai.example.com/v1/sync');
    },
  });
  script.sheetaiSyncNow();
  const { message } = state.alerts[0];
  assert.match(message, /Could not reach the sheetai service at https:\/\/sheetai\.example\.com/);
  assert.match(message, /Address unavailable/);
  assert.match(message, /reachable from Google over HTTPS/);
});

test('a 4xx shows the server message (FastAPI detail string or list)', () => {
  const plainDetail = loadScript({
    properties: SETTINGS,
    service: () => ({ code: 400, body: { detail: "sheetai!C4: no column 'Revew' in sheet Feedback" } }),
  });
  plainDetail.script.sheetaiSyncNow();
  assert.match(plainDetail.state.alerts[0].message, /refused the request \(400\)/);
  assert.match(plainDetail.state.alerts[0].message, /no column 'Revew' in sheet Feedback/);

  const listDetail = loadScript({
    properties: SETTINGS,
    service: () => ({ code: 422, body: { detail: [{ loc: ['body', 'step'], msg: 'Input should be a valid string', type: 'string_type' }] } }),
  });
  listDetail.script.sheetaiSyncNow();
  assert.match(listDetail.state.alerts[0].message, /\(422\).*body\.step: Input should be a valid string/);

  const textBody = loadScript({ properties: SETTINGS, service: () => ({ code: 503, body: 'upstream down' }) });
  textBody.script.sheetaiSyncNow();
  assert.match(textBody.state.alerts[0].message, /failed \(503\).*upstream down/);
});

test('a failed job alerts the service error', () => {
  const { script, state } = loadScript({
    properties: SETTINGS,
    service: scriptedService([{ status: 'failed', progress: null, error: 'budget cap of $5.00 reached' }]),
  });
  script.sheetaiSyncNow();
  assert.match(state.alerts[0].title, /Sync failed/);
  assert.match(state.alerts[0].message, /budget cap of \$5\.00 reached/);
});

test('a long sync stops polling in time and says it continues in the background', () => {
  const { script, state } = loadScript({
    properties: SETTINGS,
    service: scriptedService([{ status: 'running', progress: { step: 'Sentiment', done: 7, total: 5000 } }]),
  });
  script.sheetaiSyncNow();
  const elapsed = state.clock.now - START_MS;
  assert.ok(elapsed <= 4 * 60 * 1000, `polled for ${elapsed} ms`);
  assert.ok(elapsed >= 3 * 60 * 1000, 'but did not give up early');
  assert.ok(state.requests.length < 40, `${state.requests.length} requests is too many polls`);
  assert.equal(state.alerts.length, 1);
  assert.match(state.alerts[0].message, /still running/);
  assert.match(state.alerts[0].message, /continues in the background/);
  assert.match(state.alerts[0].message, /7\/5000 rows/);
});
