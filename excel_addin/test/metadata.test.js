"use strict";
const { test } = require("node:test");
const assert = require("node:assert/strict");
const { execFileSync } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

const { check } = require("../scripts/metadata.js");

const ROOT = path.join(__dirname, "..");

test("src/functions.json is what custom-functions-metadata generates from the JSDoc", async () => {
  assert.equal(await check(), true, "run `npm run metadata` and commit src/functions.json");
});

test("`npm run check-metadata` fails when functions.json is stale", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sheetai-stale-"));
  try {
    const stale = path.join(dir, "functions.json");
    const metadata = JSON.parse(fs.readFileSync(path.join(ROOT, "src", "functions.json"), "utf8"));
    metadata.functions[0].description = "edited by hand";
    fs.writeFileSync(stale, JSON.stringify(metadata, null, 4) + "\n");
    assert.equal(await check(stale), false);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  // And the script itself exits 0 on the committed file.
  const out = execFileSync(process.execPath, [path.join(ROOT, "scripts", "metadata.js"), "--check"], { encoding: "utf8" });
  assert.match(out, /matches/);
});

test("the metadata describes the functions Excel will show", () => {
  const { functions } = JSON.parse(fs.readFileSync(path.join(ROOT, "src", "functions.json"), "utf8"));
  const byId = Object.fromEntries(functions.map((f) => [f.id, f]));
  for (const id of ["AICLASSIFY", "AICLASSIFY.DETAIL"]) {
    const f = byId[id];
    assert.equal(f.name, id);
    assert.deepEqual(
      f.parameters.map((p) => [p.name, p.dimensionality || "scalar", Boolean(p.optional)]),
      [
        ["text", "matrix", false],
        ["labels", "matrix", false],
        ["instructions", "scalar", true],
        ["model", "scalar", true],
      ]
    );
    assert.equal(f.result.dimensionality, "matrix");
  }
});
