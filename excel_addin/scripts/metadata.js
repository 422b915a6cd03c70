#!/usr/bin/env node
/*
 * Generates src/functions.json from the JSDoc in src/functions.js with the
 * `custom-functions-metadata` package.
 *
 *   node scripts/metadata.js          write src/functions.json
 *   node scripts/metadata.js --check  regenerate into a temp file; exit 1 if it differs
 *
 * Calls the package's library entry point rather than its CLI: the CLI prints
 * JSDoc errors but still exits 0.
 */
"use strict";

const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { generateCustomFunctionsMetadata } = require("custom-functions-metadata");

const ROOT = path.resolve(__dirname, "..");
const SOURCE = path.join(ROOT, "src", "functions.js");
const TARGET = path.join(ROOT, "src", "functions.json");

async function generate(outputPath) {
  const result = await generateCustomFunctionsMetadata(SOURCE);
  if (result.errors.length > 0) {
    throw new Error(`JSDoc errors in ${path.relative(ROOT, SOURCE)}:\n  ${result.errors.join("\n  ")}`);
  }
  if (!result.metadataJson) {
    throw new Error(`no @customfunction found in ${path.relative(ROOT, SOURCE)}`);
  }
  fs.writeFileSync(outputPath, result.metadataJson + "\n");
  return outputPath;
}

/** True when `target` (default src/functions.json) is what the generator makes from src/functions.js. */
async function check(target = TARGET) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sheetai-metadata-"));
  try {
    const fresh = fs.readFileSync(await generate(path.join(dir, "functions.json")), "utf8");
    const committed = fs.existsSync(target) ? fs.readFileSync(target, "utf8") : "";
    if (fresh.replace(/\r\n/g, "\n") !== committed.replace(/\r\n/g, "\n")) {
      return false;
    }
    return true;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main(argv) {
  if (argv.includes("--check")) {
    if (!(await check())) {
      console.error("src/functions.json is out of date with the JSDoc in src/functions.js; run `npm run metadata`.");
      return 1;
    }
    console.log("src/functions.json matches src/functions.js");
    return 0;
  }
  await generate(TARGET);
  console.log(`wrote ${path.relative(ROOT, TARGET)}`);
  return 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      console.error(err.message);
      process.exit(1);
    }
  );
}

module.exports = { check, generate };
