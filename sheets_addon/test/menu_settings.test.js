'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { loadScript } = require('./harness');

const SECRET = 'per-sheet-secret-0123456789abcdef';

test('onOpen adds the sheetai menu with its items, Sync automatically on/off last', () => {
  const { script, state } = loadScript();
  script.onOpen();
  assert.equal(state.menus.length, 1);
  const menu = state.menus[0];
  assert.equal(menu.name, 'sheetai');
  assert.equal(menu.addedToUi, true);
  const items = menu.items.filter((item) => !item.separator);
  assert.deepEqual(items.map((item) => item.label), [
    'Sync now', 'Sync step…', 'Show last run', 'Settings…',
    'Sync automatically: turn on', 'Sync automatically: turn off',
  ]);
  for (const item of items) {
    assert.equal(typeof script[item.functionName], 'function', `${item.functionName} exists`);
    assert.ok(!item.functionName.endsWith('_'), 'menu handlers must not be private functions');
  }
});

test('Settings… saves the URL and the secret in Script Properties', () => {
  const { script, state } = loadScript({
    promptAnswers: [{ text: '  https://sheetai.example.com/  ' }, { text: SECRET }],
  });
  script.sheetaiSettings();
  assert.equal(state.properties.SHEETAI_URL, 'https://sheetai.example.com');
  assert.equal(state.properties.SHEETAI_SECRET, SECRET);
  assert.equal(state.alerts.length, 1);
  const shown = state.alerts[0].message + state.prompts.map((p) => p.message).join('\n');
  assert.ok(shown.includes('https://sheetai.example.com'));
  assert.ok(!shown.includes(SECRET), 'the secret is never shown back in full');
  assert.ok(!shown.includes(SECRET.slice(0, 10)));
});

test('Settings… keeps current values on blank answers and never shows the secret', () => {
  const { script, state } = loadScript({
    properties: { SHEETAI_URL: 'https://old.example', SHEETAI_SECRET: SECRET },
    promptAnswers: [{ text: '' }, { text: '   ' }],
  });
  script.sheetaiSettings();
  assert.equal(state.properties.SHEETAI_URL, 'https://old.example');
  assert.equal(state.properties.SHEETAI_SECRET, SECRET);
  assert.ok(state.prompts[0].message.includes('https://old.example'));
  for (const text of state.prompts.map((p) => p.message).concat(state.alerts.map((a) => a.message))) {
    assert.ok(!text.includes(SECRET));
  }
});

test('Settings… refuses a non-https URL and a short secret, saving nothing', () => {
  const http = loadScript({ promptAnswers: [{ text: 'http://localhost:8000' }] });
  http.script.sheetaiSettings();
  assert.deepEqual(http.state.properties, {});
  assert.match(http.state.alerts[0].message, /must start with https:\/\//);

  const short = loadScript({ promptAnswers: [{ text: 'https://ok.example' }, { text: 'abc' }] });
  short.script.sheetaiSettings();
  assert.deepEqual(short.state.properties, {});
  assert.match(short.state.alerts[0].message, /at least 16 characters/);
});

test('Settings… cancelled at either prompt saves nothing', () => {
  const first = loadScript({ promptAnswers: [{ button: 'CANCEL' }] });
  first.script.sheetaiSettings();
  assert.deepEqual(first.state.properties, {});
  assert.equal(first.state.alerts.length, 0);

  const second = loadScript({ promptAnswers: [{ text: 'https://ok.example' }, { button: 'CANCEL' }] });
  second.script.sheetaiSettings();
  assert.deepEqual(second.state.properties, {});
});

test('Show last run reads the last row of the "sheetai log" tab', () => {
  const { script, state } = loadScript({
    tabs: {
      'sheetai log': [
        ['when', 'rows', 'tokens', 'cost_usd', 'flags'],
        [new Date(Date.UTC(2024, 0, 1, 9)), 10, 1000, 0.01, ''],
        [new Date(Date.UTC(2024, 0, 2, 10, 30)), 120, 45678, 0.0456, 'LOW_CONFIDENCE: 3'],
      ],
    },
  });
  script.sheetaiShowLastRun();
  assert.equal(state.alerts.length, 1);
  const message = state.alerts[0].message;
  assert.ok(message.includes('when: 2024-01-02T10:30:00.000Z'), message);
  assert.ok(message.includes('rows: 120'));
  assert.ok(message.includes('tokens: 45678'));
  assert.ok(message.includes('flags: LOW_CONFIDENCE: 3'));
  assert.ok(!message.includes('2024-01-01'), 'only the last row is shown');
});

test('Show last run explains a missing or empty log tab', () => {
  const missing = loadScript();
  missing.script.sheetaiShowLastRun();
  assert.match(missing.state.alerts[0].message, /no "sheetai log" tab yet/);

  const empty = loadScript({ tabs: { 'sheetai log': [['when', 'rows']] } });
  empty.script.sheetaiShowLastRun();
  assert.match(empty.state.alerts[0].message, /No run has been logged yet/);
});
