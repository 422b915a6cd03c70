/*
 * Excel custom functions =SHEETAI.AICLASSIFY(...) and =SHEETAI.AICLASSIFY.DETAIL(...).
 *
 * Every call made within a short window is queued and sent as ONE POST /v1/classify
 * (identical items once, at most `maxBatchSize` items per request), so filling a
 * column with the formula costs a handful of requests, not one per cell.
 *
 * src/functions.json is generated from the JSDoc below (`npm run metadata`);
 * only top-level function declarations tagged @customfunction are picked up.
 *
 * Runs as a classic <script> in the shared runtime (after client.js) and under
 * Node for tests, where CustomFunctions / OfficeRuntime are injected as globals.
 */
/* global CustomFunctions, OfficeRuntime, module, require */

const sheetaiClient =
  typeof module === "object" && module.exports ? require("./client.js") : globalThis.SheetAIClient;

const SHEETAI_SETTINGS = {
  batchWindowMs: 40,
  maxBatchSize: 200,
  maxParallelRequests: 4,
  timeoutMs: 25000,
  maxMessageLength: 250,
};

const sheetaiQueue = { pending: [], timer: null };

/**
 * Classifies text into one of the given labels.
 * @customfunction AICLASSIFY
 * @param {any[][]} text Text to classify: a cell, or a range of rows (one label per row).
 * @param {any[][]} labels The labels: "Positive,Neutral,Negative" or a range of label cells.
 * @param {string} [instructions] Extra instructions for the model.
 * @param {string} [model] Model to use; the service's default when omitted.
 * @returns {any[][]} The label of each row of text.
 */
function aiClassify(text, labels, instructions, model) {
  return sheetaiClassifyRows(text, labels, instructions, model, (r) => [r.label], [""]);
}

/**
 * Classifies text and returns the label, the confidence and the model's reasoning side by side.
 * @customfunction AICLASSIFY.DETAIL
 * @param {any[][]} text Text to classify: a cell, or a range of rows (one result row per row).
 * @param {any[][]} labels The labels: "Positive,Neutral,Negative" or a range of label cells.
 * @param {string} [instructions] Extra instructions for the model.
 * @param {string} [model] Model to use; the service's default when omitted.
 * @returns {any[][]} Label, confidence and reasoning for each row of text.
 */
function aiClassifyDetail(text, labels, instructions, model) {
  return sheetaiClassifyRows(
    text,
    labels,
    instructions,
    model,
    (r) => [r.label, typeof r.confidence === "number" ? r.confidence : "", r.reasoning || ""],
    ["", "", ""]
  );
}

/**
 * Shared body of both functions: validates the arguments, queues one item per
 * non-empty row of `text`, and assembles the matrix Excel spills.
 */
async function sheetaiClassifyRows(text, labels, instructions, model, toRow, emptyRow) {
  const labelList = sheetaiParseLabels(labels);
  if (labelList.length === 0) {
    throw sheetaiError("invalidValue", 'labels missing: give them as "Positive,Neutral,Negative" or a range');
  }
  if (labelList.length < 2) {
    throw sheetaiError("invalidValue", `need at least two labels, got only "${labelList[0]}"`);
  }
  const rows = sheetaiRowsOf(text);
  const options = {};
  const instr = sheetaiOptionalText(instructions);
  const modelName = sheetaiOptionalText(model);
  if (instr) options.instructions = instr;
  if (modelName) options.model = modelName;

  const outcomes = await Promise.all(
    rows.map((rowText) =>
      rowText === "" ? Promise.resolve(null) : sheetaiEnqueue(Object.assign({ text: rowText, labels: labelList }, options))
    )
  );

  const failures = outcomes.filter((o) => o && o.error);
  const answered = outcomes.filter((o) => o && !o.error);
  // One cell, or nothing came back at all: show the error itself rather than a spill of errors.
  if (failures.length > 0 && (rows.length === 1 || (answered.length === 0 && failures[0].requestFailed))) {
    throw failures[0].error;
  }
  return outcomes.map((o) => {
    if (o === null) return emptyRow.slice();
    if (o.error) return emptyRow.map(() => o.error);
    return toRow(o.result);
  });
}

/** One text per row of the argument; the cells of a multi-column row are joined with newlines. */
function sheetaiRowsOf(text) {
  const matrix = Array.isArray(text) ? text : [[text]];
  return matrix.map((row) => {
    const cells = Array.isArray(row) ? row : [row];
    return cells
      .map(sheetaiCellText)
      .filter((s) => s !== "")
      .join("\n");
  });
}

function sheetaiCellText(value) {
  if (value === null || value === undefined) return "";
  // With allowCustomDataForDataTypeAny, a linked data type arrives as an object.
  if (typeof value === "object") {
    if ("basicValue" in value) return sheetaiCellText(value.basicValue);
    if ("text" in value) return sheetaiCellText(value.text);
    return "";
  }
  return String(value).trim();
}

// Label parsing: the rules of sheetai/config/labels.py, kept in step with it (and with the Apps
// Script's copy) by the shared table tests/data/label_cases.json.
const SHEETAI_NAME_EDGES = /^[ \-•*\t]+|[ \-•*\t]+$/g;

/** Every label of a string or a range as {name, description}, in order, repeats included. */
function sheetaiLabelList(labels) {
  const cells = Array.isArray(labels) ? labels.flat(Infinity) : [labels];
  return cells.flatMap((cell) => sheetaiLabelParts(sheetaiCellText(cell)).map(sheetaiLabel));
}

/** A cell of several lines holds one label a line (descriptions keep their commas); else split at commas. */
function sheetaiLabelParts(cell) {
  const lines = cell.split(/\r?\n/).filter((line) => line.trim() !== "");
  return lines.length > 1 ? lines : cell.split(",").filter((part) => part.trim() !== "");
}

/** "Label" or "Label: description"; a colon before a digit is part of the name ("12:00-14:00"). */
function sheetaiLabel(part) {
  const match = /^([\s\S]*?):(?!\d)([\s\S]*)$/.exec(part);
  const name = match ? match[1] : part;
  return { name: name.replace(SHEETAI_NAME_EDGES, ""), description: match ? match[2].trim() : "" };
}

/** The labels without repeats: the first of each name, ignoring case and spaces. */
function sheetaiDistinctLabels(labels) {
  const seen = new Set();
  return labels.filter((label) => {
    const key = label.name.replace(/\s+/g, " ").trim().toLowerCase();
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** The labels sent to the service: distinct, each "Label" or "Label: description". */
function sheetaiParseLabels(labels) {
  return sheetaiDistinctLabels(sheetaiLabelList(labels)).map((label) =>
    label.description ? `${label.name}: ${label.description}` : label.name
  );
}

function sheetaiOptionalText(value) {
  if (Array.isArray(value)) value = value.flat(Infinity)[0];
  return sheetaiCellText(value);
}

function sheetaiError(code, message) {
  const text = String(message);
  const max = SHEETAI_SETTINGS.maxMessageLength;
  const short = text.length > max ? text.slice(0, max - 1) + "…" : text;
  return new CustomFunctions.Error(CustomFunctions.ErrorCode[code], short);
}

/** The cell error for a failed request: bad arguments show #VALUE!, an unavailable service #N/A. */
function sheetaiRequestError(err) {
  if (err && err.name === "ServiceError") {
    let message = err.message;
    if (err.kind === "unreachable") message += " (is `sheetai serve` running?)";
    if (err.kind === "unauthorized") message += "; set the token in the sheetai task pane";
    return sheetaiError(err.kind === "rejected" && err.status !== 404 && err.status !== 429 ? "invalidValue" : "notAvailable", message);
  }
  return sheetaiError("notAvailable", `sheetai: ${err && err.message ? err.message : err}`);
}

/** Queues one item; resolves with {result} or {error} once its batch has been answered. */
function sheetaiEnqueue(item) {
  return new Promise((resolve) => {
    sheetaiQueue.pending.push({ key: JSON.stringify(item), item, resolve });
    if (sheetaiQueue.timer === null) {
      sheetaiQueue.timer = setTimeout(sheetaiFlush, SHEETAI_SETTINGS.batchWindowMs);
    }
  });
}

/** Sends everything queued so far: identical items once, split into requests of maxBatchSize. */
async function sheetaiFlush() {
  const entries = sheetaiQueue.pending;
  sheetaiQueue.pending = [];
  sheetaiQueue.timer = null;
  if (entries.length === 0) return;

  const groups = new Map();
  for (const entry of entries) {
    if (!groups.has(entry.key)) groups.set(entry.key, { item: entry.item, waiters: [] });
    groups.get(entry.key).waiters.push(entry.resolve);
  }
  const unique = Array.from(groups.values());
  const chunks = [];
  for (let i = 0; i < unique.length; i += SHEETAI_SETTINGS.maxBatchSize) {
    chunks.push(unique.slice(i, i + SHEETAI_SETTINGS.maxBatchSize));
  }

  let connection;
  try {
    const storage = typeof OfficeRuntime !== "undefined" && OfficeRuntime.storage ? OfficeRuntime.storage : null;
    connection = await sheetaiClient.loadConnection(storage);
  } catch (err) {
    const error = sheetaiError("notAvailable", `cannot read the sheetai settings: ${err && err.message}`);
    unique.forEach((g) => g.waiters.forEach((resolve) => resolve({ error, requestFailed: true })));
    return;
  }

  let next = 0;
  const worker = async () => {
    while (next < chunks.length) {
      const chunk = chunks[next++];
      await sheetaiSendChunk(connection, chunk);
    }
  };
  const workers = [];
  for (let i = 0; i < Math.min(SHEETAI_SETTINGS.maxParallelRequests, chunks.length); i++) workers.push(worker());
  await Promise.all(workers);
}

async function sheetaiSendChunk(connection, chunk) {
  const settle = (g, outcome) => g.waiters.forEach((resolve) => resolve(outcome));
  let body;
  try {
    body = await sheetaiClient.postJson({
      serviceUrl: connection.serviceUrl,
      token: connection.token,
      path: "/v1/classify",
      body: { items: chunk.map((g) => g.item) },
      timeoutMs: SHEETAI_SETTINGS.timeoutMs,
    });
  } catch (err) {
    const error = sheetaiRequestError(err);
    chunk.forEach((g) => settle(g, { error, requestFailed: true }));
    return;
  }
  const results = body && Array.isArray(body.results) ? body.results : null;
  if (!results || results.length !== chunk.length) {
    const got = results ? results.length : "no";
    const error = sheetaiError("notAvailable", `${connection.serviceUrl} sent ${got} results for ${chunk.length} items`);
    chunk.forEach((g) => settle(g, { error, requestFailed: true }));
    return;
  }
  chunk.forEach((g, i) => {
    const r = results[i];
    if (r && typeof r.error === "string") {
      settle(g, { error: sheetaiError("notAvailable", r.error) });
    } else if (r && typeof r.label === "string") {
      settle(g, { result: r });
    } else {
      settle(g, { error: sheetaiError("notAvailable", `${connection.serviceUrl} sent a result without a label`) });
    }
  });
}

if (typeof CustomFunctions !== "undefined" && typeof CustomFunctions.associate === "function") {
  CustomFunctions.associate("AICLASSIFY", aiClassify);
  CustomFunctions.associate("AICLASSIFY.DETAIL", aiClassifyDetail);
}

if (typeof module === "object" && module.exports) {
  module.exports = {
    aiClassify,
    aiClassifyDetail,
    settings: SHEETAI_SETTINGS,
    parseLabels: sheetaiParseLabels,
    labelList: sheetaiLabelList,
    distinctLabels: sheetaiDistinctLabels,
    rowsOf: sheetaiRowsOf,
  };
}
