"use strict";
// Label parsing against the table of cases shared with sheetai (Python) and the Apps Script.
const { test } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");

const { installOfficeGlobals } = require("./helpers/office.js");

installOfficeGlobals(); // functions.js registers its functions with CustomFunctions at load time
const functions = require("../src/functions.js");

const TABLE = path.join(__dirname, "..", "..", "tests", "data", "label_cases.json");
const { cases } = JSON.parse(fs.readFileSync(TABLE, "utf8"));
const pairs = (labels) => labels.map((label) => [label.name, label.description]);

for (const c of cases) {
  test(`labels: ${c.name}`, () => {
    const labels = functions.labelList(c.input);
    assert.deepEqual(pairs(labels), c.labels);
    const distinct = c.distinct || c.labels;
    assert.deepEqual(pairs(functions.distinctLabels(labels)), distinct);
    const sent = distinct.map(([name, description]) => (description ? `${name}: ${description}` : name));
    assert.deepEqual(functions.parseLabels(c.input), sent);
  });
}
