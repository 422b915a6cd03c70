"use strict";
const { test, mock, before, after, beforeEach, afterEach } = require("node:test");
const assert = require("node:assert/strict");

const auto = require("../src/autosync.js");
const sync = require("../src/sync.js");
const { createStorage } = require("./helpers/office.js");
const { FakeWorkbook } = require("./helpers/excel.js");
const { startService } = require("./helpers/service.js");

const QUIET = auto.DEFAULTS.quietMs;
const settle = () => new Promise((resolve) => setImmediate(resolve));

/** Lets `ms` of fake time pass, then the promises it released. */
async function wait(ms) {
  mock.timers.tick(ms);
  await settle();
}

/** A runSync that stays running until finish(); `calls` counts the syncs started. */
function heldSync() {
  const held = { calls: [], finish: null };
  held.runSync = () => {
    held.calls.push("sync");
    return new Promise((resolve) => (held.finish = resolve));
  };
  return held;
}

/** A watcher whose first sync, started by an input edit, is still running. */
async function duringSync() {
  const held = heldSync();
  const { wb } = await listening(workbook(), held.runSync);
  await wb.fireChanged("Feedback", { address: "B2" });
  await wait(QUIET);
  assert.equal(held.calls.length, 1);
  return { wb, held };
}

function workbook() {
  return new FakeWorkbook({
    sheetai: {
      rows: [
        ["Step", "Sheet", "Input", "Task", "Labels", "Output"],
        ["sentiment", "Feedback", "Review", "classify", "Positive,Negative", "Sentiment"],
        ["topic", " feedback ", "review,  PRODUCT", "classify", "Food,Service", "Topic"],
      ],
    },
    // A ID, B Review, C Product, D Sentiment, E Sentiment flag, F Notes
    Feedback: { rows: [["ID", "Review", "Product", "Sentiment", "Sentiment flag", "Notes"], [1, "Loved it", "Tea", "Positive", ""]] },
    Other: { rows: [["Review"], ["not a step's sheet"]] },
  });
}

/** An AutoSync over a fake workbook whose runSync only counts, unless given one. */
async function listening(wb = workbook(), runSync) {
  const calls = [];
  const watcher = new auto.AutoSync({
    excel: wb.excel,
    runSync: runSync || (async () => calls.push(Date.now())),
  });
  const watched = await watcher.enable();
  return { wb, watcher, calls, watched };
}

beforeEach(() => mock.timers.enable({ apis: ["setTimeout"] }));
afterEach(() => mock.timers.reset());

// ---- what counts as an input change (pure) ----------------------------------------------------

test("the watch plan: each step sheet's input columns, headers matched ignoring case and spaces", async () => {
  const sheets = await sync.readWorkbook(workbook().excel);
  assert.deepEqual(auto.watchPlan(sheets), { Feedback: [2, 3] });
  assert.deepEqual(auto.watchPlan({ Feedback: [["Review"]] }), {}, "no config tab, nothing to watch");
});

test("only a person's local edit below the header touching an input column counts", () => {
  const inputs = [2, 3];
  const change = (extra) => auto.isInputChange(inputs, Object.assign({ source: "Local", changeType: "RangeEdited" }, extra));
  assert.equal(change({ address: "B2" }), true);
  assert.equal(change({ address: "A5:F9" }), true, "a paste across inputs and outputs");
  assert.equal(change({ address: "C:C" }), true, "a whole input column");
  assert.equal(change({ address: "4:4" }), true, "a whole row");
  assert.equal(change({ address: "D2:F9" }), false, "outputs and other columns");
  assert.equal(change({ address: "B1:C1" }), false, "the header row");
  assert.equal(change({ address: "B2", source: "Remote" }), false, "a co-author's copy answers its own edits");
  assert.equal(change({ address: "B2", triggerSource: "ThisLocalAddin" }), false, "the add-in's own writes");
  assert.equal(change({ address: "B2", changeType: "RowInserted" }), false, "an inserted row holds no input yet");
  assert.equal(change({ address: "B2", changeType: "RowDeleted" }), false);
  assert.equal(change({ address: "not an address" }), false);
  assert.equal(auto.isInputChange(undefined, { source: "Local", changeType: "RangeEdited", address: "B2" }), false);
});

// ---- the toggle -----------------------------------------------------------------------------------

test("turning on registers onChanged on the step sheets and the config tab; off removes them", async () => {
  const { wb, watcher, watched } = await listening();
  assert.deepEqual(watched, ["Feedback"]);
  assert.deepEqual(wb.handlers.map((h) => h.sheet).sort(), ["Feedback", "sheetai"]);

  await watcher.enable();
  assert.equal(wb.handlers.length, 2, "turning on twice does not register twice");

  await watcher.disable();
  assert.deepEqual(wb.handlers, []);
  await watcher.disable();
  assert.deepEqual(wb.handlers, [], "turning off twice is harmless");
});

test("after turning off, a pending sync is dropped and changes are ignored", async () => {
  const { wb, watcher, calls } = await listening();
  await wb.fireChanged("Feedback", { address: "B2" });
  await watcher.disable();
  await wb.fireChanged("Feedback", { address: "B2" });
  mock.timers.tick(QUIET * 3);
  await settle();
  assert.equal(calls.length, 0);
});

test("the toggle is kept in the workbook's settings", async () => {
  const store = new Map();
  const officeSettings = {
    get: (key) => (store.has(key) ? store.get(key) : null),
    set: (key, value) => store.set(key, value),
    saveAsync: (callback) => callback({ status: "succeeded" }),
  };
  const settings = auto.documentSettings(officeSettings);
  assert.equal(await auto.loadToggle(settings), false);
  await auto.saveToggle(settings, true);
  assert.equal(store.get("sheetai.autoSync"), true);
  assert.equal(await auto.loadToggle(settings), true);
  await auto.saveToggle(settings, false);
  assert.equal(await auto.loadToggle(settings), false);

  const failing = auto.documentSettings(Object.assign({}, officeSettings, {
    saveAsync: (callback) => callback({ status: "failed", error: new Error("read-only workbook") }),
  }));
  await assert.rejects(auto.saveToggle(failing, true), /read-only workbook/);
});

// ---- debounce ------------------------------------------------------------------------------------

test("a burst of input edits makes one sync, a few seconds after the last edit", async () => {
  const { wb, calls } = await listening();
  for (const address of ["B2", "B3", "C4:C9", "B10"]) {
    await wb.fireChanged("Feedback", { address });
    mock.timers.tick(QUIET - 1);
  }
  await settle();
  assert.equal(calls.length, 0, "still typing: no sync yet");
  mock.timers.tick(1);
  await settle();
  assert.equal(calls.length, 1);
  mock.timers.tick(QUIET * 5);
  await settle();
  assert.equal(calls.length, 1);
});

test("changes outside input columns, remote changes and the add-in's own writes never sync", async () => {
  const { wb, calls } = await listening();
  await wb.fireChanged("Feedback", { address: "D2:E2" });
  await wb.fireChanged("Feedback", { address: "F2" });
  await wb.fireChanged("Feedback", { address: "A1:F1" });
  await wb.fireChanged("Feedback", { address: "B2", source: "Remote" });
  await wb.fireChanged("Feedback", { address: "B2", triggerSource: "ThisLocalAddin" });
  await wb.fireChanged("Feedback", { address: "B3:B4", changeType: "RowInserted" });
  await wb.fireChanged("sheetai", { address: "C2" });
  await wb.fireChanged("Other", { address: "A2" });
  mock.timers.tick(QUIET * 5);
  await settle();
  assert.equal(calls.length, 0);
  assert.ok(!wb.handlers.some((h) => h.sheet === "Other"), "a sheet no step reads is not listened to");
});

test("edits during a sync make exactly one more sync after it; its own writes make none", async () => {
  const { wb, held } = await duringSync();
  const { calls } = held;
  await wb.fireChanged("Feedback", { address: "D2", triggerSource: "ThisLocalAddin" });
  await wb.fireChanged("Feedback", { address: "B3" });
  await wb.fireChanged("Feedback", { address: "B4" });
  await wb.fireChanged("Feedback", { address: "B5" });
  await wait(QUIET * 2);
  assert.equal(calls.length, 1, "never two syncs at once");

  held.finish();
  await settle();
  await wait(QUIET);
  assert.equal(calls.length, 2, "one follow-up for the three edits");
  held.finish();
  await settle();
  await wait(QUIET * 5);
  assert.equal(calls.length, 2);
});

test("on Excel without triggerSource, changes while our sync writes are taken as ours", async () => {
  const { wb, held } = await duringSync();
  await wb.fireChanged("Feedback", { address: "B2:D9", triggerSource: undefined });
  held.finish();
  await settle();
  await wait(QUIET * 3);
  assert.equal(held.calls.length, 1);
});

test("a change to the config tab re-reads which columns to watch", async () => {
  const { wb, calls } = await listening();
  wb.sheet("sheetai").set(4, 1, "kind");
  wb.sheet("sheetai").set(4, 2, "Other");
  wb.sheet("sheetai").set(4, 3, "Review");
  wb.sheet("sheetai").set(4, 4, "classify");
  await wb.fireChanged("sheetai", { address: "A4:D4" });
  mock.timers.tick(QUIET);
  await settle();
  await settle();
  assert.deepEqual(wb.handlers.map((h) => h.sheet).sort(), ["Feedback", "Other", "sheetai"]);
  await wb.fireChanged("Other", { address: "A2" });
  mock.timers.tick(QUIET);
  await settle();
  assert.equal(calls.length, 1, "editing a config cell alone asked for no sync; the new step's input did");
});

// ---- the request ------------------------------------------------------------------------------------

let service;
before(async () => {
  service = await startService();
});
after(async () => {
  await service.close();
});

test("the automatic sync goes through the Sync path with trigger \"edit\" in the body", async () => {
  mock.timers.reset(); // real timers for the HTTP round trip
  service.requests.length = 0;
  const storage = createStorage({ "sheetai.serviceUrl": service.url, "sheetai.token": "secret-token" });
  const wb = workbook();
  let done;
  const finished = new Promise((resolve) => (done = resolve));
  const watcher = new auto.AutoSync({
    excel: wb.excel,
    quietMs: 10,
    runSync: async () => {
      await sync.syncWorkbook({ excel: wb.excel, storage, trigger: "edit" });
      done();
    },
  });
  await watcher.enable();
  await wb.fireChanged("Feedback", { address: "B2" });
  await finished;
  await watcher.disable();
  assert.equal(service.requests.length, 1);
  const [request] = service.requests;
  assert.equal(request.path, "/v1/excel/sync");
  assert.equal(request.body.trigger, "edit");
  assert.equal(request.body.step, null);
  assert.equal(request.body.force, false);
  assert.deepEqual(request.body.sheets.Feedback[0], ["ID", "Review", "Product", "Sentiment", "Sentiment flag", "Notes"]);
});
