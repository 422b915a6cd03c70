"use strict";
const { test } = require("node:test");
const assert = require("node:assert/strict");

const client = require("../src/client.js");
const { createStorage } = require("./helpers/office.js");

test("connection defaults to http://127.0.0.1:8765 and no token", async () => {
  assert.deepEqual(await client.loadConnection(createStorage()), { serviceUrl: "http://127.0.0.1:8765", token: "" });
  assert.deepEqual(await client.loadConnection(null), { serviceUrl: "http://127.0.0.1:8765", token: "" });
});

test("saved connection round-trips under the sheetai.* keys, trailing slashes dropped", async () => {
  const storage = createStorage();
  await client.saveConnection(storage, { serviceUrl: " https://sheetai.example.com/ ", token: " abc " });
  assert.equal(storage.data.get("sheetai.serviceUrl"), "https://sheetai.example.com");
  assert.equal(storage.data.get("sheetai.token"), "abc");
  assert.deepEqual(await client.loadConnection(storage), { serviceUrl: "https://sheetai.example.com", token: "abc" });
});

test("error bodies in every shape the service may send become one readable message", () => {
  assert.deepEqual(client.describeErrorBody({ detail: "invalid token" }), { message: "invalid token", cell: null });
  assert.deepEqual(client.describeErrorBody({ detail: { message: "no column 'Revew'", cell: "sheetai!C2" } }), {
    message: "no column 'Revew'",
    cell: "sheetai!C2",
  });
  assert.deepEqual(client.describeErrorBody({ error: { message: "quota" } }), { message: "quota", cell: null });
  assert.equal(
    client.describeErrorBody({ detail: [{ loc: ["body", "force"], msg: "not a boolean" }] }).message,
    "body.force: not a boolean"
  );
  assert.equal(client.describeErrorBody("Bad Gateway").message, "Bad Gateway");
});

test("a non-JSON 200 answer is a bad_response, not a crash", async () => {
  const fetchImpl = async () => ({ status: 200, text: async () => "<html>proxy login</html>" });
  await assert.rejects(
    client.postJson({ serviceUrl: "http://x", token: "", path: "/v1/classify", body: {}, timeoutMs: 1000, fetchImpl }),
    (err) => err.kind === "bad_response" && /did not answer with JSON/.test(err.message)
  );
});

test("an external abort signal cancels the request", async () => {
  const controller = new AbortController();
  const fetchImpl = (url, init) =>
    new Promise((_resolve, reject) => init.signal.addEventListener("abort", () => reject(new Error("aborted"))));
  const pending = client.postJson({
    serviceUrl: "http://x",
    path: "/v1/excel/sync",
    body: {},
    timeoutMs: 60000,
    signal: controller.signal,
    fetchImpl,
  });
  controller.abort();
  await assert.rejects(pending, (err) => err.kind === "cancelled");
});
