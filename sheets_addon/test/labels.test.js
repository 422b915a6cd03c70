'use strict';
// Label parsing against the table of cases shared with sheetai (Python) and the Excel add-in.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { loadScript, plain } = require('./harness');

const TABLE = path.join(__dirname, '..', '..', 'tests', 'data', 'label_cases.json');
const { cases } = JSON.parse(fs.readFileSync(TABLE, 'utf8'));
const pairs = (labels) => plain(labels).map((label) => [label.name, label.description]);
const { script } = loadScript();

for (const c of cases) {
  test(`labels: ${c.name}`, () => {
    const labels = script.labelList_(c.input);
    assert.deepEqual(pairs(labels), c.labels);
    const distinct = c.distinct || c.labels;
    assert.deepEqual(pairs(script.distinctLabels_(labels)), distinct);
    const sent = distinct.map(([name, description]) => (description ? `${name}: ${description}` : name));
    if (sent.length >= 2) {
      assert.deepEqual(plain(script.parseLabels_(c.input)), sent);
    } else {
      assert.throws(() => script.parseLabels_(c.input), /at least two labels/);
    }
  });
}
