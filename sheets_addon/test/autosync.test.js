'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { loadScript, assertSigned, thrownMessage } = require('./harness');

const SECRET = 'per-sheet-secret-0123456789abcdef';
const URL_ = 'https://sheetai.example.com';
const SHEET_ID = '1SheetIdForTests_abcdefghijklmnopqrstuvwx';
const SETTINGS = { SHEETAI_URL: URL_, SHEETAI_SECRET: SECRET };

// Feedback: A ID, B Review, C Product, D..G the Sentiment step's outputs (G its flag),
// H..K the Topic step's outputs (K its flag), L a column of the user's own.
const FEEDBACK_HEADER = ['ID', 'Review', 'Product', 'Sentiment', 'Sentiment reasoning',
  'Sentiment confidence', 'Sentiment flag', 'Topic', 'Topic reasoning', 'Topic confidence',
  'Topic flag', 'Notes'];
const G = 7;
const K = 11;

function tabs() {
  const row = (id, review, product) => [id, review, product, 'Positive', 'why', 0.9, '', 'Food',
    'why', 0.8, '', ''];
  return {
    sheetai: [
      ['Step', 'Sheet', 'Input', 'Task', 'Labels', 'Output'],
      ['sentiment', 'Feedback', 'Review', 'classify', 'Positive, Negative', 'Sentiment'],
      ['topic', ' feedback ', 'review ,  PRODUCT', 'classify', 'Food, Service', 'Topic'],
      ['kind', 'Orders', 'Note', 'classify', 'A, B', 'Kind'],
    ],
    Feedback: [FEEDBACK_HEADER, row(1, 'Great', 'Pizza'), row(2, 'Slow', 'Pasta'),
      row(3, 'Cold', 'Soup'), row(4, 'Fine', 'Cake')],
    Orders: [['Note', 'Kind', 'Kind reasoning', 'Kind confidence', 'Kind flag'], ['x', 'A', '', '', '']],
    Other: [['Review', 'Sentiment flag'], ['text', '']],
  };
}

function load(options = {}) {
  return loadScript(Object.assign({
    sheetId: SHEET_ID,
    properties: SETTINGS,
    tabs: tabs(),
    service: () => ({ code: 202, body: { job_id: 'j-9', status: 'queued' } }),
  }, options));
}

/** The onEdit event object for a person's edit of `tab`!(row, column, rows, columns). */
function editEvent(script, tab, row, column, rows = 1, columns = 1) {
  const spreadsheet = script.SpreadsheetApp.getActive();
  return { range: spreadsheet.getSheetByName(tab).getRange(row, column, rows, columns), source: spreadsheet };
}

const flags = (state, tab, column) => state.tabs[tab].slice(1).map((row) => row[column - 1]);

// ---- turning it on and off --------------------------------------------------------------------

test('turn on installs one onEdit and one onChange trigger for this spreadsheet, never twice', () => {
  const { script, state } = load({
    triggers: [{ handler: 'myOwnReport', eventType: 'CLOCK', sourceId: SHEET_ID }],
  });
  script.sheetaiAutoSyncOn();
  const ours = state.triggers.filter((t) => t.handler.startsWith('sheetai'));
  assert.deepEqual(ours.map((t) => [t.handler, t.eventType, t.sourceId]), [
    ['sheetaiOnEdit', 'ON_EDIT', SHEET_ID],
    ['sheetaiOnChange', 'ON_CHANGE', SHEET_ID],
  ]);
  for (const t of ours) assert.equal(typeof script[t.handler], 'function');
  assert.match(state.alerts[0].message, /Turned on/);

  script.sheetaiAutoSyncOn();
  assert.equal(state.triggers.length, 3, 'a second "on" adds nothing');
  assert.match(state.alerts[1].message, /already on/);
});

test('turn on adds only the missing trigger', () => {
  const { script, state } = load({ triggers: [{ handler: 'sheetaiOnEdit', eventType: 'ON_EDIT', sourceId: SHEET_ID }] });
  script.sheetaiAutoSyncOn();
  assert.deepEqual(state.triggers.map((t) => t.handler).sort(), ['sheetaiOnChange', 'sheetaiOnEdit']);
});

test('turn off removes only our triggers, leaving other handlers and other users alone', () => {
  const { script, state } = load({
    triggers: [
      { handler: 'myOwnReport', eventType: 'CLOCK', sourceId: SHEET_ID },
      { handler: 'sheetaiOnEdit', eventType: 'ON_EDIT', sourceId: SHEET_ID, owner: 'colleague@example.com' },
    ],
  });
  script.sheetaiAutoSyncOn();
  assert.equal(state.triggers.length, 4);
  script.sheetaiAutoSyncOff();
  assert.deepEqual(state.triggers.map((t) => [t.handler, t.owner]), [
    ['myOwnReport', 'owner@example.com'],
    ['sheetaiOnEdit', 'colleague@example.com'],
  ]);
  assert.match(state.alerts[1].message, /Turned off/);
  script.sheetaiAutoSyncOff();
  assert.match(state.alerts[2].message, /was not on/);
});

test('turn on without settings says to open Settings… and installs nothing', () => {
  const { script, state } = load({ properties: {} });
  script.sheetaiAutoSyncOn();
  assert.equal(state.triggers.length, 0);
  assert.match(state.alerts[0].message, /not set up yet/);
});

// ---- edits that ask for a sync ------------------------------------------------------------------

test('a typed input marks the row PENDING for every step reading it and sends one signed request', () => {
  const { script, state } = load();
  const outcome = script.sheetaiOnEdit(editEvent(script, 'Feedback', 3, 2));
  assert.deepEqual({ ...outcome }, { marked: 2, requested: true });
  assert.deepEqual(flags(state, 'Feedback', G), ['', 'PENDING', '', '']);
  assert.deepEqual(flags(state, 'Feedback', K), ['', 'PENDING', '', '']);

  assert.equal(state.requests.length, 1);
  const [request] = state.requests;
  assert.equal(request.url, `${URL_}/v1/sync`);
  assert.equal(request.method, 'post');
  assert.match(request.payload, new RegExp(
    `^\\{"spreadsheet_id":"${SHEET_ID}","step":null,"force":false,"trigger":"edit","nonce":"[0-9a-f-]{36}"\\}$`));
  assertSigned(assert, request, { secret: SECRET, sheetId: SHEET_ID, nowMs: state.clock.now });
  assert.equal(state.alerts.length + state.toasts.length, 0, 'a trigger shows no UI');
});

test('a paste over several rows marks the rows with inputs, in one write per flag column', () => {
  const { script, state } = load();
  state.tabs.Feedback[2][1] = ''; // row 3: Review cleared by the paste...
  state.tabs.Feedback[2][2] = ''; // ...and Product too: nothing to answer there
  script.sheetaiOnEdit(editEvent(script, 'Feedback', 2, 2, 3, 2));
  assert.deepEqual(flags(state, 'Feedback', G), ['PENDING', '', 'PENDING', '']);
  assert.deepEqual(flags(state, 'Feedback', K), ['PENDING', '', 'PENDING', '']);
  assert.equal(state.requests.length, 1);
  assert.deepEqual(state.writes.map((w) => [w.row, w.column, w.values.length]),
    [[2, G, 1], [4, G, 1], [2, K, 1], [4, K, 1]]);
});

test('a paste of many rows is one request and one write per flag column', () => {
  const many = tabs();
  for (let i = 5; i <= 504; i++) many.Feedback.push([i, `review ${i}`, 'Tea', '', '', '', '', '', '', '', '', '']);
  const { script, state } = load({ tabs: many });
  script.sheetaiOnEdit(editEvent(script, 'Feedback', 2, 1, 503, 3));
  assert.equal(state.requests.length, 1);
  assert.equal(flags(state, 'Feedback', G).filter((f) => f === 'PENDING').length, 503);
  assert.equal(state.writes.length, 2);
});

test('an input of one step marks only that step', () => {
  const { script, state } = load();
  script.sheetaiOnEdit(editEvent(script, 'Feedback', 4, 3)); // Product: Topic's input only
  assert.deepEqual(flags(state, 'Feedback', G), ['', '', '', '']);
  assert.deepEqual(flags(state, 'Feedback', K), ['', '', 'PENDING', '']);
  assert.equal(state.requests.length, 1);
});

test('a flag the engine wrote is replaced; a person\'s note in the flag column is kept', () => {
  const { script, state } = load();
  state.tabs.Feedback[1][G - 1] = 'LOW_CONFIDENCE';
  state.tabs.Feedback[1][K - 1] = 'checked by Ana';
  script.sheetaiOnEdit(editEvent(script, 'Feedback', 2, 2));
  assert.equal(state.tabs.Feedback[1][G - 1], 'PENDING');
  assert.equal(state.tabs.Feedback[1][K - 1], 'checked by Ana');
  assert.equal(state.requests.length, 1);
});

test('before the first sync (no flag column yet) the request is sent without marks', () => {
  const { script, state } = load();
  state.tabs.Orders[0].splice(4, 1); // no "Kind flag" header
  const outcome = script.sheetaiOnEdit(editEvent(script, 'Orders', 2, 1));
  assert.deepEqual({ ...outcome }, { marked: 0, requested: true });
  assert.equal(state.writes.length, 0);
  assert.equal(state.requests.length, 1);
});

// ---- edits that ask for nothing ----------------------------------------------------------------

test('edits to outputs, other columns, the header row, other tabs and the config tab ask for nothing', () => {
  const { script, state } = load();
  const quiet = [
    ['Feedback', 3, 4, 1, 4], // Sentiment .. Sentiment flag: outputs
    ['Feedback', 3, 8, 2, 4], // Topic outputs
    ['Feedback', 3, 12], // Notes
    ['Feedback', 3, 1], // ID: not an input of any step
    ['Feedback', 1, 2, 1, 3], // the header row
    ['Other', 2, 1], // a tab no step reads, even with a "Review" column
    ['sheetai', 2, 3], // the config tab
    ['Orders', 2, 2], // Orders outputs
  ];
  for (const [tab, row, column, rows, columns] of quiet) {
    const outcome = script.sheetaiOnEdit(editEvent(script, tab, row, column, rows, columns));
    assert.deepEqual({ ...outcome }, { marked: 0, requested: false }, `${tab} ${row},${column}`);
  }
  assert.equal(state.requests.length, 0);
  assert.equal(state.writes.length, 0);
});

test('clearing an input asks for nothing: a blank row has no answer to give', () => {
  const { script, state } = load();
  state.tabs.Feedback[1][1] = '';
  state.tabs.Feedback[1][2] = '';
  script.sheetaiOnEdit(editEvent(script, 'Feedback', 2, 2, 1, 2));
  assert.equal(state.requests.length, 0);
  assert.equal(state.writes.length, 0);
});

test('without a config tab nothing is asked', () => {
  const noConfig = tabs();
  delete noConfig.sheetai;
  const { script, state } = load({ tabs: noConfig });
  script.sheetaiOnEdit(editEvent(script, 'Feedback', 2, 2));
  assert.equal(state.requests.length + state.writes.length, 0);
});

// ---- inserted rows -----------------------------------------------------------------------------

test('INSERT_ROW marks the inserted rows that have inputs and sends one request', () => {
  const { script, state } = load();
  const feedback = state.tabs.Feedback;
  feedback.splice(2, 0, [9, 'Inserted with a review', 'Tea', '', '', '', '', '', '', '', '', ''],
    new Array(12).fill(''));
  const spreadsheet = script.SpreadsheetApp.getActive();
  state.activeRange = spreadsheet.getSheetByName('Feedback').getRange(3, 1, 2, 12);
  const outcome = script.sheetaiOnChange({ changeType: 'INSERT_ROW', source: spreadsheet });
  assert.deepEqual({ ...outcome }, { marked: 2, requested: true });
  assert.deepEqual(flags(state, 'Feedback', G), ['', 'PENDING', '', '', '', '']);
  assert.deepEqual(flags(state, 'Feedback', K), ['', 'PENDING', '', '', '', '']);
  assert.equal(state.requests.length, 1);
  assert.equal(JSON.parse(state.requests[0].payload).trigger, 'edit');
  assert.match(JSON.parse(state.requests[0].payload).nonce, /^[0-9a-f-]{36}$/);
});

test('empty inserted rows, and change events other than INSERT_ROW, ask for nothing', () => {
  const { script, state } = load();
  state.tabs.Feedback.splice(2, 0, new Array(12).fill(''));
  const spreadsheet = script.SpreadsheetApp.getActive();
  state.activeRange = spreadsheet.getSheetByName('Feedback').getRange(3, 1, 1, 12);
  script.sheetaiOnChange({ changeType: 'INSERT_ROW', source: spreadsheet });
  state.activeRange = spreadsheet.getSheetByName('Feedback').getRange(2, 2);
  for (const changeType of ['EDIT', 'FORMAT', 'INSERT_COLUMN', 'REMOVE_ROW', 'OTHER']) {
    script.sheetaiOnChange({ changeType, source: spreadsheet });
  }
  assert.equal(state.requests.length + state.writes.length, 0);
});

// ---- quota: bursts and failures ----------------------------------------------------------------

test('a burst of edits within a few seconds marks every row but sends one request', () => {
  const { script, state } = load();
  script.sheetaiOnEdit(editEvent(script, 'Feedback', 2, 2));
  state.clock.now += 2000;
  script.sheetaiOnEdit(editEvent(script, 'Feedback', 3, 2));
  state.clock.now += 2000;
  const third = script.sheetaiOnEdit(editEvent(script, 'Feedback', 4, 3));
  assert.deepEqual({ ...third }, { marked: 1, requested: false });
  assert.deepEqual(flags(state, 'Feedback', G), ['PENDING', 'PENDING', '', '']);
  assert.deepEqual(flags(state, 'Feedback', K), ['PENDING', 'PENDING', 'PENDING', '']);
  assert.equal(state.requests.length, 1);

  state.clock.now += 5000;
  script.sheetaiOnEdit(editEvent(script, 'Feedback', 5, 2));
  assert.equal(state.requests.length, 2, 'after the gap the next edit asks again');
});

test('a failed request turns the marks into an error flag, fails the run, and the next edit retries', () => {
  let up = false;
  const { script, state } = load({
    service: () => (up ? { code: 202, body: { job_id: 'j-1', status: 'queued' } }
      : { code: 503, body: { detail: 'service restarting' } }),
  });
  const message = thrownMessage(() => script.sheetaiOnEdit(editEvent(script, 'Feedback', 2, 2)));
  assert.match(message, /failed \(503\).*service restarting/);
  assert.equal(state.requests.length, 1, 'no retry inside a trigger run');
  assert.match(state.tabs.Feedback[1][G - 1], /^ERROR: sync not requested: .*503/);
  assert.match(state.tabs.Feedback[1][K - 1], /^ERROR: sync not requested/);

  up = true;
  script.sheetaiOnEdit(editEvent(script, 'Feedback', 2, 2));
  assert.equal(state.requests.length, 2);
  assert.equal(state.tabs.Feedback[1][G - 1], 'PENDING', 'the engine-style error flag is replaced');
});

test('edits without settings leave an error flag that says what to do', () => {
  const { script, state } = load({ properties: {} });
  assert.match(thrownMessage(() => script.sheetaiOnEdit(editEvent(script, 'Feedback', 2, 2))), /not set up yet/);
  assert.equal(state.requests.length, 0);
  assert.match(state.tabs.Feedback[1][G - 1], /^ERROR: sync not requested: sheetai is not set up yet/);
});
