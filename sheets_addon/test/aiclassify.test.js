'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { loadScript, plain, thrownMessage, assertSigned } = require('./harness');

const SECRET = 'per-sheet-secret-0123456789abcdef';
const URL_ = 'https://sheetai.example.com';
const SHEET_ID = '1SheetIdForTests_abcdefghijklmnopqrstuvwx';
const SETTINGS = { SHEETAI_URL: URL_, SHEETAI_SECRET: SECRET };

/** A classify service labelling a text "positive" when it contains "good", else "negative". */
function classifier(overrides = {}) {
  return (request) => {
    assert.equal(request.url, `${URL_}/v1/classify`);
    const { items } = JSON.parse(request.payload);
    return {
      code: 200,
      body: {
        results: items.map((item) => overrides[item.text] || {
          label: /good/.test(item.text) ? item.labels[0] : item.labels[1],
          confidence: 0.9,
          reasoning: 'test',
          cached: false,
        }),
      },
    };
  };
}

/** Loads the script as Sheets runs a custom function: no UI, no toasts, no property writes. */
const inCell = (options) =>
  loadScript(Object.assign({ sheetId: SHEET_ID, properties: SETTINGS, customFunction: true }, options));

test('a range is one request: blanks skipped, duplicates sent once, labels back in place', () => {
  const { script, state } = inCell({ service: classifier() });
  const range = [
    ['good food', ''],
    ['bad service', 'good food'],
    ['', '   '],
    [42, 'bad service'],
  ];
  const out = plain(script.AICLASSIFY(range, 'positive, negative , '));
  assert.deepEqual(out, [
    ['positive', ''],
    ['negative', 'positive'],
    ['', ''],
    ['negative', 'negative'],
  ]);
  assert.equal(state.requests.length, 1);
  assert.equal(state.fetchAllCalls.length, 0);
  const body = JSON.parse(state.requests[0].payload);
  assert.deepEqual(body, {
    items: [
      { text: 'good food', labels: ['positive', 'negative'] },
      { text: 'bad service', labels: ['positive', 'negative'] },
      { text: '42', labels: ['positive', 'negative'] },
    ],
  });
  assertSigned(assert, state.requests[0], { secret: SECRET, sheetId: SHEET_ID });
});

test('a single value returns a single label', () => {
  const { script, state } = inCell({ service: classifier() });
  assert.equal(script.AICLASSIFY('really good', 'positive,negative'), 'positive');
  assert.equal(state.requests.length, 1);
});

test('a blank single value returns blank without a request', () => {
  const { script, state } = inCell({ service: classifier() });
  assert.equal(script.AICLASSIFY('', 'positive,negative'), '');
  assert.deepEqual(plain(script.AICLASSIFY([['', ''], [' ', '']], 'a,b')), [['', ''], ['', '']]);
  assert.equal(state.requests.length, 0);
});

test('labels from a range; instructions and model are sent only when given', () => {
  const { script, state } = inCell({ service: classifier() });
  script.AICLASSIFY([['good'], ['meh']], [['positive'], ['negative'], [''], ['positive']],
    'Tweets about an airline.', [['gpt-4o-mini']]);
  const { items } = JSON.parse(state.requests[0].payload);
  assert.deepEqual(items[0], {
    text: 'good', labels: ['positive', 'negative'], instructions: 'Tweets about an airline.', model: 'gpt-4o-mini',
  });
  script.AICLASSIFY('good', 'positive,negative', '', '');
  assert.deepEqual(JSON.parse(state.requests[1].payload).items[0], { text: 'good', labels: ['positive', 'negative'] });
});

test('non-ASCII texts travel as ASCII JSON and the signature still verifies', () => {
  const { script, state } = inCell({ service: classifier() });
  script.AICLASSIFY('très good ☕ 😀', 'positif,négatif');
  const request = state.requests[0];
  assert.match(request.payload, /^[\x00-\x7e]*$/);
  assert.deepEqual(JSON.parse(request.payload).items[0], { text: 'très good ☕ 😀', labels: ['positif', 'négatif'] });
  assertSigned(assert, request, { secret: SECRET, sheetId: SHEET_ID });
});

test('a per-text error fills that cell in a range and throws for a single value', () => {
  const service = classifier({ 'broken text': { error: 'model returned an invalid label' } });
  const { script } = inCell({ service });
  assert.deepEqual(plain(script.AICLASSIFY([['good'], ['broken text']], 'positive,negative')), [
    ['positive'],
    ['ERROR: model returned an invalid label'],
  ]);
  assert.equal(thrownMessage(() => script.AICLASSIFY('broken text', 'positive,negative')),
    'AICLASSIFY: model returned an invalid label');
});

test('service errors are thrown with a readable message', () => {
  const unauthorised = inCell({ service: () => ({ code: 401, body: { detail: 'signature mismatch' } }) });
  assert.match(thrownMessage(() => unauthorised.script.AICLASSIFY('good', 'a,b')), /401.*secret.*signature mismatch/s);

  const invalid = inCell({ service: () => ({ code: 422, body: { detail: 'labels: at most 50 labels' } }) });
  assert.match(thrownMessage(() => invalid.script.AICLASSIFY('good', 'a,b')), /\(422\).*at most 50 labels/);

  const down = inCell({ service: () => { throw new Error('DNS error: https://sheetai.example.com'); } });
  assert.match(thrownMessage(() => down.script.AICLASSIFY('good', 'a,b')), /Could not reach the sheetai service/);

  const short = inCell({ service: () => ({ code: 200, body: { results: [] } }) });
  assert.match(thrownMessage(() => short.script.AICLASSIFY('good', 'a,b')), /returned 0 results for 1 texts/);

  const html = inCell({ service: () => ({ code: 200, body: '<html>proxy login</html>' }) });
  assert.match(thrownMessage(() => html.script.AICLASSIFY('good', 'a,b')), /not JSON: <html>proxy login/);
});

test('bad arguments and missing settings throw before any request', () => {
  const { script, state } = inCell({ service: classifier() });
  assert.match(thrownMessage(() => script.AICLASSIFY('good', 'only-one')), /at least two labels/);
  assert.match(thrownMessage(() => script.AICLASSIFY('good')), /at least two labels/);
  assert.match(thrownMessage(() => script.AICLASSIFY('good', 'a,b', [['x', 'y']])), /instructions must be one cell/);
  assert.equal(state.requests.length, 0);

  const unset = inCell({ properties: {}, service: classifier() });
  assert.match(thrownMessage(() => unset.script.AICLASSIFY('good', 'a,b')), /not set up yet/);
});

test('more than 500 distinct texts go out as batches of 500 in one fetchAll, in order', () => {
  const { script, state } = inCell({ service: classifier() });
  const range = [];
  for (let i = 0; i < 1201; i++) range.push([i % 3 === 0 ? `good ${i}` : `bad ${i}`]);
  const out = plain(script.AICLASSIFY(range, 'positive,negative'));
  assert.deepEqual(state.fetchAllCalls, [3]);
  assert.equal(state.fetchCalls.length, 0);
  assert.deepEqual(state.requests.map((r) => JSON.parse(r.payload).items.length), [500, 500, 201]);
  const signatures = new Set(state.requests.map((r) => r.headers['X-Sheetai-Signature']));
  assert.equal(signatures.size, 3);
  for (const request of state.requests) assertSigned(assert, request, { secret: SECRET, sheetId: SHEET_ID });
  out.forEach((row, i) => assert.equal(row[0], i % 3 === 0 ? 'positive' : 'negative'));
});

test('too many distinct texts for 30 seconds throws without a request', () => {
  const { script, state } = inCell({ service: classifier() });
  const range = Array.from({ length: 2001 }, (_, i) => [`text ${i}`]);
  assert.match(thrownMessage(() => script.AICLASSIFY(range, 'a,b')), /2,001 distinct texts.*30-second/);
  assert.equal(state.requests.length, 0);
});
