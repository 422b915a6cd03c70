"use strict";
const { test, before, after, beforeEach } = require("node:test");
const assert = require("node:assert/strict");

const sync = require("../src/sync.js");
const { createStorage } = require("./helpers/office.js");
const { FakeWorkbook } = require("./helpers/excel.js");
const { startService, deadUrl } = require("./helpers/service.js");

let service;
let storage;

before(async () => {
  service = await startService();
});

after(async () => {
  await service.close();
});

beforeEach(() => {
  service.requests.length = 0;
  storage = createStorage({ "sheetai.serviceUrl": service.url, "sheetai.token": "secret-token" });
});

function feedbackWorkbook() {
  return new FakeWorkbook({
    sheetai: {
      rows: [
        ["step", "sheet", "input", "task", "labels", "output"],
        ["sentiment", "Feedback", "Review", "classify", "Positive,Negative", "Sentiment"],
      ],
    },
    Feedback: {
      rows: [["Review"], ["Loved it"], ["Awful"]],
    },
  });
}

// ---- A1 arithmetic ------------------------------------------------------------

test("A1 helpers", () => {
  assert.equal(sync.columnToNumber("A"), 1);
  assert.equal(sync.columnToNumber("Z"), 26);
  assert.equal(sync.columnToNumber("AA"), 27);
  assert.equal(sync.columnToNumber("XFD"), 16384);
  assert.equal(sync.numberToColumn(28), "AB");
  assert.equal(sync.numberToColumn(16384), "XFD");
  assert.deepEqual(sync.parseA1Range("E1:H201"), { row1: 1, col1: 5, row2: 201, col2: 8 });
  assert.deepEqual(sync.parseA1Range("$B$2"), { row1: 2, col1: 2, row2: 2, col2: 2 });
  assert.deepEqual(sync.parseA1Range("Feedback!C3:A1"), { row1: 1, col1: 1, row2: 3, col2: 3 });
  assert.equal(sync.formatA1Range({ row1: 5, col1: 2, row2: 9, col2: 4 }), "B5:D9");
  assert.throws(() => sync.parseA1Range("E:E"), /not an A1 range/);
  assert.deepEqual(sync.parseCellRef("sheetai!C2"), { sheet: "sheetai", address: "C2" });
  assert.deepEqual(sync.parseCellRef("'sheetai log'!A1"), { sheet: "sheetai log", address: "A1" });
});

// ---- reading ------------------------------------------------------------------

test("reads every sheet, hidden ones included, padded so A1 is the origin", async () => {
  const wb = new FakeWorkbook({
    sheetai: { rows: [["step"], ["s1"]] },
    Feedback: { origin: "C3", rows: [["Review", "Score"], ["good", 5], ["", true]] },
    Empty: {},
    _sheetai_state: { rows: [["{}"]], visibility: "Hidden" },
    "sheetai log": { origin: "A2", rows: [["2024-01-01", 3]] },
  });
  const sheets = await sync.readWorkbook(wb.excel);
  assert.deepEqual(Object.keys(sheets), ["sheetai", "Feedback", "Empty", "_sheetai_state", "sheetai log"]);
  assert.deepEqual(sheets.Feedback, [
    ["", "", "", ""],
    ["", "", "", ""],
    ["", "", "Review", "Score"],
    ["", "", "good", 5],
    ["", "", "", true],
  ]);
  assert.deepEqual(sheets.Empty, []);
  assert.deepEqual(sheets._sheetai_state, [["{}"]]);
  assert.deepEqual(sheets["sheetai log"], [
    ["", ""],
    ["2024-01-01", 3],
  ]);
  assert.equal(wb.runCount, 1);
  assert.equal(wb.syncCount, 2, "one sync for the sheet list, one for all used ranges");
});

// ---- the whole sync -----------------------------------------------------------

test("sync sends every sheet and applies the service's writes and new sheets", async () => {
  const wb = feedbackWorkbook();
  service.sync = () => ({
    status: 200,
    json: {
      summary: { rows_run: 2, cost_usd: 0.001 },
      new_sheets: [
        { name: "_sheetai_state", hidden: true },
        { name: "sheetai log", hidden: false },
      ],
      writes: [
        { sheet: "Feedback", address: "B1:B3", values: [["Sentiment"], ["Positive"], ["Negative"]] },
        { sheet: "_sheetai_state", address: "A1:B1", values: [["Feedback!2", "ab12"]] },
        { sheet: "sheetai log", address: "A1:C2", values: [["when", "rows", "cost"], ["2024-05-01T10:00:00", 2, 0.001]] },
      ],
    },
  });
  const events = [];
  const result = await sync.syncWorkbook({ excel: wb.excel, storage, step: "sentiment", onProgress: (e) => events.push(e.phase) });

  const [request] = service.requests;
  assert.equal(request.path, "/v1/excel/sync");
  assert.equal(request.headers.authorization, "Bearer secret-token");
  assert.deepEqual(request.body, {
    sheets: {
      sheetai: [
        ["step", "sheet", "input", "task", "labels", "output"],
        ["sentiment", "Feedback", "Review", "classify", "Positive,Negative", "Sentiment"],
      ],
      Feedback: [["Review"], ["Loved it"], ["Awful"]],
    },
    step: "sentiment",
    force: false,
  });

  assert.deepEqual(result.summary, { rows_run: 2, cost_usd: 0.001 });
  assert.deepEqual(result.createdSheets, ["_sheetai_state", "sheetai log"]);
  assert.equal(wb.sheet("_sheetai_state").visibility, "Hidden");
  assert.equal(wb.sheet("sheetai log").visibility, "Visible");
  assert.deepEqual(wb.sheet("Feedback").values("A1:B3"), [
    ["Review", "Sentiment"],
    ["Loved it", "Positive"],
    ["Awful", "Negative"],
  ]);
  assert.deepEqual(wb.sheet("sheetai log").values("A2:C2"), [["'2024-05-01T10:00:00", 2, 0.001]]); // the stub keeps the apostrophe Excel would hide
  assert.deepEqual(
    wb.writeLog.map((w) => `${w.sheet}!${w.address}`),
    ["Feedback!B1:B3", "_sheetai_state!A1:B1", "sheetai log!A1:C2"]
  );
  assert.deepEqual(events, ["reading", "waiting", "writing", "writing", "done"]);
});

test("a second sync reuses existing sheets and includes the hidden state tab", async () => {
  const wb = new FakeWorkbook({
    sheetai: { rows: [["step"]] },
    Feedback: { rows: [["Review"]] },
    _sheetai_state: { rows: [["Feedback!2", "ab12"]], visibility: "Hidden" },
  });
  service.sync = () => ({
    status: 200,
    json: { summary: {}, new_sheets: [{ name: "_SHEETAI_STATE", hidden: true }], writes: [] },
  });
  const result = await sync.syncWorkbook({ excel: wb.excel, storage, force: true });
  assert.deepEqual(service.requests[0].body.sheets._sheetai_state, [["Feedback!2", "ab12"]]);
  assert.equal(service.requests[0].body.force, true);
  assert.equal(service.requests[0].body.step, null);
  assert.deepEqual(result.createdSheets, []);
  assert.equal(wb.sheets.length, 3);
});

test("rows inserted since the last sync: the pane writes exactly the addresses the service gives", async () => {
  // Two rows were inserted above the old data, and a person overwrote one result (B5).
  const wb = new FakeWorkbook({
    sheetai: { rows: [["step"]] },
    Feedback: {
      rows: [
        ["Review", "Sentiment"],
        ["New A", ""],
        ["New B", ""],
        ["Loved it", "Positive"],
        ["Awful", "Actually fine"],
      ],
    },
  });
  service.sync = (body) => {
    assert.equal(body.sheets.Feedback.length, 5);
    return {
      status: 200,
      json: {
        summary: { rows_run: 2, edited_by_person: 1 },
        new_sheets: [],
        writes: [{ sheet: "Feedback", address: "B2:B3", values: [["Negative"], ["Positive"]] }],
      },
    };
  };
  await sync.syncWorkbook({ excel: wb.excel, storage });
  assert.deepEqual(wb.writeLog, [{ sheet: "Feedback", address: "B2:B3", values: [["Negative"], ["Positive"]] }]);
  assert.deepEqual(wb.sheet("Feedback").values("B1:B5"), [
    ["Sentiment"],
    ["Negative"],
    ["Positive"],
    ["Positive"],
    ["Actually fine"],
  ]);
});

test("a bad config comes back with the cell to fix, and nothing is written", async () => {
  const wb = feedbackWorkbook();
  service.sync = () => ({
    status: 400,
    json: { detail: { message: "no column 'Revew' in sheet Feedback — did you mean 'Review'?", cell: "sheetai!C2" } },
  });
  await assert.rejects(sync.syncWorkbook({ excel: wb.excel, storage }), (err) => {
    assert.equal(err.name, "ServiceError");
    assert.equal(err.cell, "sheetai!C2");
    assert.match(err.message, /HTTP 400\): no column 'Revew' in sheet Feedback/);
    return true;
  });
  assert.equal(wb.writeLog.length, 0);

  await sync.selectCell(wb.excel, "sheetai!C2");
  assert.equal(wb.selected, "sheetai!C2");
});

test("a rejected token and an unreachable service are readable errors", async () => {
  const wb = feedbackWorkbook();
  storage.data.set("sheetai.token", "nope");
  await assert.rejects(sync.syncWorkbook({ excel: wb.excel, storage }), /token rejected by http:\/\/127\.0\.0\.1:\d+ \(HTTP 401\): invalid token/);

  const url = await deadUrl();
  storage.data.set("sheetai.serviceUrl", url);
  await assert.rejects(sync.syncWorkbook({ excel: wb.excel, storage }), (err) => err.kind === "unreachable" && err.message.includes(url));
});

test("a sync that gets no answer times out", async () => {
  const wb = feedbackWorkbook();
  service.sync = () => "hang";
  await assert.rejects(sync.syncWorkbook({ excel: wb.excel, storage, timeoutMs: 200 }), (err) => err.kind === "timeout");
  assert.equal(wb.writeLog.length, 0);
});

// ---- applying writes ----------------------------------------------------------

test("writes are flushed with a context.sync() every N writes", async () => {
  const wb = new FakeWorkbook({ Data: { rows: [["x"]] } });
  const writes = [];
  for (let i = 1; i <= 45; i++) writes.push({ sheet: "Data", address: `B${i}`, values: [[i]] });
  const progress = [];
  await sync.applySyncResponse(wb.excel, { writes }, { writesPerSync: 20, onProgress: (e) => progress.push(e.done) });
  assert.equal(wb.writeLog.length, 45);
  // 1 (sheet list) + 1 (new sheets) + 2 full batches of 20 + 1 final
  assert.equal(wb.syncCount, 5);
  assert.deepEqual(progress, [0, 20, 40, 45]);
  assert.deepEqual(wb.sheet("Data").values("B44:B45"), [[44], [45]]);
});

test("a large write is cut into row slices that cover exactly the given range", async () => {
  const wb = new FakeWorkbook({ Data: { rows: [["x"]] } });
  const values = Array.from({ length: 10 }, (_, i) => [`r${i + 1}`, i + 1]);
  await sync.applySyncResponse(wb.excel, { writes: [{ sheet: "Data", address: "E3:F12", values }] }, { maxCellsPerSync: 8 });
  assert.deepEqual(
    wb.writeLog.map((w) => w.address),
    ["E3:F6", "E7:F10", "E11:F12"]
  );
  assert.deepEqual(wb.sheet("Data").values("E3:F12"), values);
});

test("a single-cell address with a block of values writes the block from that corner", async () => {
  const wb = new FakeWorkbook({ Data: { rows: [["x"]] } });
  await sync.applySyncResponse(wb.excel, { writes: [{ sheet: "Data", address: "C2", values: [["a", "b"], ["c", "d"]] }] });
  assert.deepEqual(wb.writeLog.map((w) => w.address), ["C2:D3"]);
});

test("text that Excel would turn into a formula is written as text", async () => {
  const wb = new FakeWorkbook({ Data: { rows: [["x"]] } });
  await sync.applySyncResponse(wb.excel, {
    writes: [{ sheet: "Data", address: "A2:E2", values: [["=HYPERLINK(\"x\")", "-5", "plain", 0.75, null]] }],
  });
  assert.deepEqual(wb.writeLog[0].values, [["'=HYPERLINK(\"x\")", "'-5", "plain", 0.75, ""]]);
});

test("text that Excel would read as a number, boolean or date stays text", async () => {
  const wb = new FakeWorkbook({ Data: { rows: [["x"]] } });
  const texts = ["00123456789012345678", "1,234.5", "TRUE", "2024-05-01", "10:30", "3 stars", "Positive"];
  await sync.applySyncResponse(wb.excel, { writes: [{ sheet: "Data", address: "A2:G2", values: [texts] }] });
  assert.deepEqual(wb.writeLog[0].values, [
    ["'00123456789012345678", "'1,234.5", "'TRUE", "'2024-05-01", "'10:30", "3 stars", "Positive"],
  ]);
});

test("a write that does not fit its address, or targets an unknown sheet, fails before anything is written", async () => {
  const wb = new FakeWorkbook({ Data: { rows: [["x"]] } });
  await assert.rejects(
    sync.applySyncResponse(wb.excel, {
      writes: [
        { sheet: "Data", address: "B1:B2", values: [["ok"], ["ok"]] },
        { sheet: "Data", address: "C1:C3", values: [["a"], ["b"]] },
      ],
    }),
    /Data!C1:C3: address is 3x1 but values are 2x1/
  );
  await assert.rejects(
    sync.applySyncResponse(wb.excel, {
      new_sheets: [{ name: "Made", hidden: false }],
      writes: [
        { sheet: "Data", address: "B1", values: [["ok"]] },
        { sheet: "Missing", address: "A1", values: [["x"]] },
      ],
    }),
    /sheet "Missing", which is not in the workbook/
  );
  assert.equal(wb.writeLog.length, 0);
  assert.equal(wb.sheet("Made"), null, "no sheet created either");
});

test("the summary is shown as readable rows", () => {
  const lines = sync.summaryLines({
    workbook: "Book1",
    status: "done",
    dry_run: false,
    steps: [{ step: "sentiment", sheet: "Feedback", model: "gpt-4o-mini", processed: 3, failed: 0, cost_usd: 0.0012, seconds: 2.5, status: "done" }],
    processed: 3,
    failed: 0,
    cost_usd: 0.0012,
    messages: ["2 rows kept: edited by a person"],
  });
  assert.deepEqual(lines, [
    ["workbook", "Book1"],
    ["status", "done"],
    ["step sentiment (Feedback)", "processed 3, cost usd 0.0012"],
    ["processed", "3"],
    ["cost usd", "0.0012"],
    ["messages", "2 rows kept: edited by a person"],
  ]);
});
