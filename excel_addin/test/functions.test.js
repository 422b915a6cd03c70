"use strict";
const { test, before, after, beforeEach } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");

const { installOfficeGlobals, ErrorCode } = require("./helpers/office.js");
const { startService, deadUrl } = require("./helpers/service.js");

// The globals must exist before functions.js loads: it calls CustomFunctions.associate at load time.
const office = installOfficeGlobals();
const functions = require("../src/functions.js");

const DEFAULT_SETTINGS = { ...functions.settings };
let service;

function classifyRequests() {
  return service.requests.filter((r) => r.path === "/v1/classify");
}

async function useService(url, token = "secret-token") {
  await office.storage.setItem("sheetai.serviceUrl", url);
  await office.storage.setItem("sheetai.token", token);
}

/** Awaits a promise that must reject; returns the rejection. */
async function rejection(promise) {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  assert.fail("expected the call to fail");
}

before(async () => {
  service = await startService();
});

after(async () => {
  await service.close();
});

beforeEach(async () => {
  Object.assign(functions.settings, DEFAULT_SETTINGS);
  service.requests.length = 0;
  service.token = "secret-token";
  service.classify = require("./helpers/service.js").defaultClassify;
  await useService(service.url);
});

test("both functions are associated under the ids in functions.json", () => {
  const metadata = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "src", "functions.json"), "utf8"));
  const ids = metadata.functions.map((f) => f.id).sort();
  assert.deepEqual(ids, ["AICLASSIFY", "AICLASSIFY.DETAIL"]);
  assert.deepEqual([...office.CustomFunctions.associated.keys()].sort(), ids);
  assert.equal(office.CustomFunctions.associated.get("AICLASSIFY"), functions.aiClassify);
  assert.equal(office.CustomFunctions.associated.get("AICLASSIFY.DETAIL"), functions.aiClassifyDetail);
  for (const f of metadata.functions) {
    assert.equal(f.options, undefined, `${f.id} must not be volatile or streaming`);
  }
});

test("cells calculated in the same tick make one request, identical items sent once", async () => {
  const texts = ["good film", "bad film", "good film", "so-so", "bad film", "great, good", "so-so", "good film"];
  const calls = texts.map((t) => functions.aiClassify([[t]], [["Good,Bad,So-so"]]));
  const results = await Promise.all(calls);

  const requests = classifyRequests();
  assert.equal(requests.length, 1);
  const sent = requests[0].body.items.map((i) => i.text);
  assert.deepEqual(sent, ["good film", "bad film", "so-so", "great, good"]);
  assert.deepEqual(requests[0].body.items[0].labels, ["Good", "Bad", "So-so"]);
  assert.equal(requests[0].headers.authorization, "Bearer secret-token");
  assert.deepEqual(
    results.map((r) => r[0][0]),
    ["Good", "Bad", "Good", "So-so", "Bad", "Good", "So-so", "Good"]
  );
});

test("calls a few milliseconds apart still share one request", async () => {
  const first = functions.aiClassify([["good"]], [["Good,Bad"]]);
  await new Promise((r) => setTimeout(r, 5));
  const second = functions.aiClassify([["bad"]], [["Good,Bad"]]);
  assert.deepEqual(await Promise.all([first, second]), [[["Good"]], [["Bad"]]]);
  assert.equal(classifyRequests().length, 1);
});

test("a range of text spills one label per row; empty rows stay empty and cost nothing", async () => {
  const result = await functions.aiClassify([["good"], ["bad"], [""], ["good"], [null]], [["Good"], ["Bad"], [""]]);
  assert.deepEqual(result, [["Good"], ["Bad"], [""], ["Good"], [""]]);
  const requests = classifyRequests();
  assert.equal(requests.length, 1);
  assert.deepEqual(
    requests[0].body.items.map((i) => i.text),
    ["good", "bad"]
  );
  assert.deepEqual(requests[0].body.items[0].labels, ["Good", "Bad"]);
});

test("a multi-column row is one item, its cells joined by newlines", async () => {
  const result = await functions.aiClassify([["Title: bad", "body text", 42]], [["Good,Bad"]]);
  assert.deepEqual(result, [["Bad"]]);
  assert.equal(classifyRequests()[0].body.items[0].text, "Title: bad\nbody text\n42");
});

test("AICLASSIFY.DETAIL spills label, confidence and reasoning per row", async () => {
  const result = await functions.aiClassifyDetail([["good"], ["bad"]], [["Good,Bad"]]);
  assert.deepEqual(result, [
    ["Good", 0.9, "mentions Good"],
    ["Bad", 0.9, "mentions Bad"],
  ]);
});

test("instructions and model are sent when given and left out when empty", async () => {
  await Promise.all([
    functions.aiClassify([["good"]], [["Good,Bad"]], "Be strict.", "gpt-4o-mini"),
    functions.aiClassify([["bad"]], [["Good,Bad"]], null, ""),
    functions.aiClassify([["meh"]], [["Good,Bad"]]),
  ]);
  const items = classifyRequests()[0].body.items;
  assert.deepEqual(items[0], { text: "good", labels: ["Good", "Bad"], instructions: "Be strict.", model: "gpt-4o-mini" });
  assert.deepEqual(items[1], { text: "bad", labels: ["Good", "Bad"] });
  assert.deepEqual(items[2], { text: "meh", labels: ["Good", "Bad"] });
});

test("more items than maxBatchSize are split into several requests", async () => {
  functions.settings.maxBatchSize = 3;
  const texts = ["a good", "b bad", "c good", "d bad", "e good", "f bad", "g good"];
  const results = await Promise.all(texts.map((t) => functions.aiClassify([[t]], [["Good,Bad"]])));
  assert.deepEqual(
    results.map((r) => r[0][0]),
    ["Good", "Bad", "Good", "Bad", "Good", "Bad", "Good"]
  );
  assert.deepEqual(
    classifyRequests().map((r) => r.body.items.length),
    [3, 3, 1]
  );
});

test("missing labels give #VALUE! with a message and send nothing", async () => {
  for (const labels of [[[""]], [["  ,  "]], [[""], [null]], ""]) {
    const err = await rejection(functions.aiClassify([["good"]], labels));
    assert.equal(err.code, ErrorCode.invalidValue);
    assert.match(err.message, /labels missing/);
  }
  const one = await rejection(functions.aiClassify([["good"]], [["Good"]]));
  assert.equal(one.code, ErrorCode.invalidValue);
  assert.match(one.message, /at least two labels/);
  assert.equal(classifyRequests().length, 0);
});

test("service down gives #N/A naming the URL", async () => {
  const url = await deadUrl();
  await useService(url);
  const err = await rejection(functions.aiClassify([["good"]], [["Good,Bad"]]));
  assert.ok(err instanceof office.CustomFunctions.Error);
  assert.equal(err.code, ErrorCode.notAvailable);
  assert.match(err.message, new RegExp(`service unreachable at ${url.replace(/\./g, "\\.")}`));

  // A range whose request failed shows the one error, not a spill of errors.
  const rangeErr = await rejection(functions.aiClassify([["good"], ["bad"]], [["Good,Bad"]]));
  assert.equal(rangeErr.code, ErrorCode.notAvailable);
});

test("a service that never answers times out instead of hanging", async () => {
  functions.settings.timeoutMs = 300;
  service.classify = () => "hang";
  const started = Date.now();
  const err = await rejection(functions.aiClassify([["good"]], [["Good,Bad"]]));
  assert.ok(Date.now() - started < 3000, "the timeout fired");
  assert.equal(err.code, ErrorCode.notAvailable);
  assert.match(err.message, /no answer from http:\/\/127\.0\.0\.1:\d+ within 0\.3 s/);
});

test("a rejected token gives a readable error", async () => {
  await useService(service.url, "wrong-token");
  const err = await rejection(functions.aiClassify([["good"]], [["Good,Bad"]]));
  assert.equal(err.code, ErrorCode.notAvailable);
  assert.match(err.message, /token rejected by http:\/\/127\.0\.0\.1:\d+ \(HTTP 401\): invalid token/);
  assert.match(err.message, /task pane/);
});

test("server errors carry the service's message", async () => {
  service.classify = () => ({ status: 500, json: { error: { message: "provider quota exceeded" } } });
  const err = await rejection(functions.aiClassify([["good"]], [["Good,Bad"]]));
  assert.equal(err.code, ErrorCode.notAvailable);
  assert.match(err.message, /HTTP 500\): provider quota exceeded/);

  service.classify = () => ({ status: 422, json: { detail: [{ loc: ["body", "items", 0, "model"], msg: "unknown model" }] } });
  const bad = await rejection(functions.aiClassify([["good"]], [["Good,Bad"]], "", "nope"));
  assert.equal(bad.code, ErrorCode.invalidValue);
  assert.match(bad.message, /body\.items\.0\.model: unknown model/);
});

test("a per-item error fails only that cell", async () => {
  const [ok, failed, range] = await Promise.allSettled([
    functions.aiClassify([["good"]], [["Good,Bad"]]),
    functions.aiClassify([["FAIL me"]], [["Good,Bad"]]),
    functions.aiClassify([["bad"], ["FAIL me"]], [["Good,Bad"]]),
  ]);
  assert.deepEqual(ok.value, [["Good"]]);
  assert.equal(failed.reason.code, ErrorCode.notAvailable);
  assert.equal(failed.reason.message, "model refused: FAIL me");
  assert.equal(range.value[0][0], "Bad");
  assert.ok(range.value[1][0] instanceof office.CustomFunctions.Error);
  assert.equal(classifyRequests().length, 1);
});

test("a wrong number of results is an error, not a misaligned answer", async () => {
  service.classify = () => ({ status: 200, json: { results: [] } });
  const err = await rejection(functions.aiClassify([["good"]], [["Good,Bad"]]));
  assert.equal(err.code, ErrorCode.notAvailable);
  assert.match(err.message, /sent 0 results for 1 items/);
});

test("label parsing: commas and ranges, trimmed, deduplicated", () => {
  assert.deepEqual(functions.parseLabels([["Positive, Neutral ,Negative"]]), ["Positive", "Neutral", "Negative"]);
  assert.deepEqual(functions.parseLabels([["A", "B"], ["A", ""], [3, null]]), ["A", "B", "3"]);
  assert.deepEqual(functions.parseLabels("x,,y"), ["x", "y"]);
});
