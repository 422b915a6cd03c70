"use strict";
/* Static checks of manifest.xml and taskpane.html: the wiring mistakes that make Excel silently not load the add-in. */
const { test } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");

const ROOT = path.join(__dirname, "..");
const manifest = fs.readFileSync(path.join(ROOT, "manifest.xml"), "utf8");
const taskpane = fs.readFileSync(path.join(ROOT, "src", "taskpane.html"), "utf8");

function resourceIds() {
  return new Set([...manifest.matchAll(/<bt:(?:Image|Url|String) id="([^"]+)"/g)].map((m) => m[1]));
}

test("every resid points at a defined resource of at most 32 characters", () => {
  const ids = resourceIds();
  const resids = [...manifest.matchAll(/resid="([^"]+)"/g)].map((m) => m[1]);
  assert.ok(resids.length > 10);
  for (const resid of resids) {
    assert.ok(ids.has(resid), `resid "${resid}" is not defined in <Resources>`);
    assert.ok(resid.length <= 32, `resid "${resid}" is longer than 32 characters`);
  }
});

test("custom functions and task pane share one long-lived runtime", () => {
  assert.match(manifest, /xsi:type="TaskPaneApp"/);
  assert.match(manifest, /<Set Name="SharedRuntime" MinVersion="1.1"/);
  assert.match(manifest, /<Runtime resid="Taskpane.Url" lifetime="long"/);
  assert.match(manifest, /<Page>\s*<SourceLocation resid="Taskpane.Url"/);
  assert.match(manifest, /<FunctionFile resid="Taskpane.Url"/);
  assert.match(manifest, /<Action xsi:type="ShowTaskpane">[\s\S]*?<SourceLocation resid="Taskpane.Url"/);
  assert.match(manifest, /<bt:String id="Functions.Namespace" DefaultValue="SHEETAI"/);
  assert.match(manifest, /<ExtensionPoint xsi:type="CustomFunctions">/);
  // The shared runtime page must load the functions itself, after office.js and client.js.
  const scripts = [...taskpane.matchAll(/<script src="([^"]+)"/g)].map((m) => m[1]);
  assert.deepEqual(scripts, [
    "https://appsforoffice.microsoft.com/lib/1/hosted/office.js",
    "client.js",
    "functions.js",
    "sync.js",
    "autosync.js",
    "taskpane.js",
  ]);
});

test("every add-in URL is on https://localhost:3000 and names a file in src/", () => {
  const urls = [...manifest.matchAll(/DefaultValue="(https?:\/\/[^"]+)"/g)].map((m) => m[1]);
  assert.ok(urls.length >= 8);
  for (const url of urls) {
    assert.ok(url.startsWith("https://localhost:3000/"), `${url} is not on https://localhost:3000`);
    const file = path.join(ROOT, "src", new URL(url).pathname);
    assert.ok(fs.existsSync(file), `${url} has no file at ${path.relative(ROOT, file)}`);
  }
});

test("manifest elements are balanced", () => {
  const body = manifest.replace(/<\?xml[^>]*\?>/, "").replace(/<!--[\s\S]*?-->/g, "");
  const stack = [];
  for (const m of body.matchAll(/<(\/?)([A-Za-z][\w:.]*)[^>]*?(\/?)>/g)) {
    const [, closing, name, selfClosing] = m;
    if (selfClosing) continue;
    if (closing) assert.equal(stack.pop(), name, `unexpected </${name}>`);
    else stack.push(name);
  }
  assert.deepEqual(stack, []);
});

test("the page's scripts load together as classic scripts, as in the shared runtime", () => {
  const vm = require("node:vm");
  const { createCustomFunctions, createStorage } = require("./helpers/office.js");
  const CustomFunctions = createCustomFunctions();
  let onReady = null;
  const context = vm.createContext({
    CustomFunctions,
    OfficeRuntime: { storage: createStorage() },
    Office: { onReady: (fn) => (onReady = fn) },
    setTimeout,
    clearTimeout,
    AbortController,
    fetch: async () => {
      throw new Error("no network in this test");
    },
    console,
  });
  vm.runInContext("globalThis.self = globalThis;", context);
  for (const file of ["client.js", "functions.js", "sync.js", "autosync.js", "taskpane.js"]) {
    vm.runInContext(fs.readFileSync(path.join(ROOT, "src", file), "utf8"), context, { filename: file });
  }
  assert.deepEqual([...CustomFunctions.associated.keys()].sort(), ["AICLASSIFY", "AICLASSIFY.DETAIL"]);
  assert.equal(vm.runInContext("typeof SheetAIClient.postJson", context), "function");
  assert.equal(vm.runInContext("typeof SheetAISync.syncWorkbook", context), "function");
  assert.equal(vm.runInContext("typeof SheetAIAutoSync.AutoSync", context), "function");
  assert.equal(typeof onReady, "function", "taskpane.js waits for Office.onReady");
});
