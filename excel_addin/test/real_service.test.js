"use strict";
/*
 * The add-in against the REAL `sheetai serve` (python -m sheetai serve, embedded model, its own
 * SHEETAI_HOME): custom functions batch into one /v1/classify, recalculation is answered from
 * the cache, and "Sync workbook" applies the service's writes to a stubbed workbook.
 *
 * Needs Python with sheetai installed: $SHEETAI_PYTHON, else `python3`.
 */
const { test, before, after } = require("node:test");
const assert = require("node:assert/strict");

const { installOfficeGlobals } = require("./helpers/office.js");
const { FakeWorkbook } = require("./helpers/excel.js");
const { startRealService, loggedRequests } = require("./helpers/real_service.js");

const office = installOfficeGlobals();
const functions = require("../src/functions.js");
const sync = require("../src/sync.js");

const LABELS = "Positive,Neutral,Negative";
const REVIEWS = [
  "Absolutely love it, fast delivery and great quality. Thank you!",
  "The parcel arrived broken and nobody answers my emails. Terrible.",
  "What time does the shop open on Sunday?",
  "Worst purchase ever, I want a refund now.",
  "Great support team, they solved my problem in minutes.",
  "The package was delivered on Tuesday.",
  "Really disappointed, the shoes fell apart after a week.",
  "Thanks a lot, very happy with my order!",
];
const CONFIG = [
  ["Step", "Sheet", "Input", "Task", "Instructions", "Labels", "Output", "Model", "Min confidence", "Examples"],
  ["sentiment", "Feedback", "Review", "classify", "Classify the customer's sentiment.", LABELS, "Sentiment", "local", 0.5, ""],
];

let service;
const exchanges = []; // every fetch the add-in made: {url, body, answer}
const realFetch = globalThis.fetch;

before(async () => {
  service = await startRealService();
  await office.storage.setItem("sheetai.serviceUrl", service.url);
  await office.storage.setItem("sheetai.token", service.token);
  // Records what goes over the wire; the request itself reaches the real service untouched.
  globalThis.fetch = async (url, init) => {
    const response = await realFetch(url, init);
    const text = await response.clone().text();
    exchanges.push({ url: String(url), body: JSON.parse(init.body), status: response.status, answer: JSON.parse(text) });
    return response;
  };
});

after(async () => {
  globalThis.fetch = realFetch;
  if (service) await service.stop();
});

function classifyExchanges() {
  return exchanges.filter((e) => e.url.endsWith("/v1/classify"));
}

test("N cells in one tick are one /v1/classify request; recalculating them is answered from the cache", async () => {
  // Eight =SHEETAI.AICLASSIFY(A2..A9) cells and one =SHEETAI.AICLASSIFY.DETAIL cell, evaluated together.
  const cells = REVIEWS.map((text) => functions.aiClassify([[text]], [[LABELS]]));
  cells.push(functions.aiClassifyDetail([[REVIEWS[3]]], [[LABELS]]));
  const first = await Promise.all(cells);

  const labels = first.slice(0, REVIEWS.length).map((m) => m[0][0]);
  assert.ok(labels.every((l) => ["Positive", "Neutral", "Negative"].includes(l)), labels.join());
  assert.equal(labels[0], "Positive");
  assert.equal(labels[3], "Negative");
  const [[detailLabel, confidence, reasoning]] = first[REVIEWS.length];
  assert.equal(detailLabel, labels[3]);
  assert.ok(confidence > 0 && confidence <= 1);
  assert.match(reasoning, /Negative/);

  const logged = await loggedRequests(service, "/v1/classify", 1);
  assert.equal(logged.length, 1, "the service saw one request");
  assert.equal(logged[0].status, 200);
  const [request] = classifyExchanges();
  assert.equal(request.body.items.length, REVIEWS.length, "the repeated text was sent once");
  assert.ok(request.answer.results.every((r) => r.cached === false));

  // A recalculation of the same cells (Ctrl+Alt+F9): one more request, every answer cached.
  const again = await Promise.all(REVIEWS.map((text) => functions.aiClassify([[text]], [[LABELS]])));
  assert.deepEqual(again.map((m) => m[0][0]), labels);
  assert.equal((await loggedRequests(service, "/v1/classify", 2)).length, 2);
  const second = classifyExchanges()[1];
  assert.equal(second.answer.results.length, REVIEWS.length);
  assert.ok(second.answer.results.every((r) => r.cached === true), JSON.stringify(second.answer.results[0]));
});

test("a cell the real service cannot answer shows #N/A with its reason", async () => {
  const err = await functions.aiClassify([["hello"]], [[LABELS]], "", "no-such-model").then(
    () => assert.fail("expected an error"),
    (e) => e
  );
  assert.equal(err.code, "#N/A");
  assert.match(err.message, /no-such-model/);
});

function insertRow(wb, sheetName, before, values) {
  const sheet = wb.sheet(sheetName);
  const moved = new Map();
  for (const [key, value] of sheet.cells) {
    const [row, col] = key.split(",").map(Number);
    moved.set(`${row >= before ? row + 1 : row},${col}`, value);
  }
  sheet.cells = moved;
  values.forEach((v, i) => sheet.set(before, i + 1, v));
}

test("Sync workbook applies the real service's writes; a second sync after an inserted row writes only that row", async () => {
  const wb = new FakeWorkbook({
    Feedback: { rows: [["ID", "Review"], ...REVIEWS.map((r, i) => [i + 1, r])] },
    sheetai: { rows: CONFIG },
  });
  const storage = office.storage;
  const first = await sync.syncWorkbook({ excel: wb.excel, storage });

  assert.equal(first.summary.processed, REVIEWS.length);
  assert.deepEqual(wb.sheet("Feedback").values("C1:F1"), [
    ["Sentiment", "Sentiment reasoning", "Sentiment confidence", "Sentiment flag"],
  ]);
  const written = wb.sheet("Feedback").values(`C2:E${REVIEWS.length + 1}`);
  for (const [label, reasoning, confidence] of written) {
    assert.ok(["Positive", "Neutral", "Negative"].includes(label), label);
    assert.match(reasoning, new RegExp(label));
    assert.ok(confidence > 0 && confidence <= 1);
  }
  assert.equal(wb.sheet("_sheetai_state").visibility, "Hidden");
  assert.equal(wb.sheet("sheetai log").visibility, "Visible");
  assert.ok(first.createdSheets.includes("_sheetai_state"));

  insertRow(wb, "Feedback", 4, [99, "Thank you so much, it works perfectly!"]);
  wb.writeLog.length = 0;
  const second = await sync.syncWorkbook({ excel: wb.excel, storage });

  assert.equal(second.summary.processed, 1);
  assert.equal(second.summary.skipped_unchanged, REVIEWS.length);
  assert.deepEqual(second.createdSheets, []);
  const feedbackWrites = wb.writeLog.filter((w) => w.sheet === "Feedback");
  assert.deepEqual(
    feedbackWrites.map((w) => w.address),
    ["C4:F4"],
    "only the inserted row's outputs"
  );
  assert.ok(["Positive", "Neutral", "Negative"].includes(wb.sheet("Feedback").get(4, 3)));
  // The rows below the inserted one kept their answers, one row lower.
  assert.deepEqual(wb.sheet("Feedback").values("B5:C5")[0][0], REVIEWS[2]);
  assert.equal(wb.sheet("Feedback").get(5, 3), written[2][0]);
  assert.equal(wb.sheet("sheetai log").values("A3:A3")[0][0] !== "", true, "a second log row");
});
