/*
 * "Sync workbook": read every worksheet, POST /v1/excel/sync, then create the
 * sheets and write the ranges the service asks for — exactly those addresses;
 * the service owns the layout (it has seen the rows as they are now).
 *
 * Everything here takes an `Excel`-like object (anything with `run(batch)`), so
 * Node tests drive it with a stub workbook. Loaded as a classic <script> in the
 * add-in (exposes `SheetAISync`, needs client.js first) and with require() in Node.
 */
/* global module, require, self */
(function (root, factory) {
  if (typeof module === "object" && module.exports) {
    module.exports = factory(require("./client.js"));
  } else {
    root.SheetAISync = factory(root.SheetAIClient);
  }
})(typeof self !== "undefined" ? self : this, function (client) {
  "use strict";

  const DEFAULTS = Object.freeze({
    timeoutMs: 15 * 60 * 1000,
    writesPerSync: 20,
    maxCellsPerSync: 20000,
  });

  class SyncError extends Error {
    constructor(message, { cell = null } = {}) {
      super(message);
      this.name = "SyncError";
      this.cell = cell;
    }
  }

  // ---- A1 arithmetic (pure) -------------------------------------------------

  /** columnToNumber("A") === 1, columnToNumber("AA") === 27 */
  function columnToNumber(letters) {
    let n = 0;
    for (const ch of letters.toUpperCase()) n = n * 26 + (ch.charCodeAt(0) - 64);
    return n;
  }

  /** numberToColumn(1) === "A", numberToColumn(28) === "AB" */
  function numberToColumn(n) {
    let s = "";
    while (n > 0) {
      const rem = (n - 1) % 26;
      s = String.fromCharCode(65 + rem) + s;
      n = Math.floor((n - 1) / 26);
    }
    return s;
  }

  /** parseA1Range("E1:H201") -> {row1: 1, col1: 5, row2: 201, col2: 8}; a single cell is a 1x1 range. */
  function parseA1Range(address) {
    const bare = String(address).split("!").pop().replace(/\$/g, "").trim();
    const m = /^([A-Za-z]{1,3})(\d+)(?::([A-Za-z]{1,3})(\d+))?$/.exec(bare);
    if (!m) throw new SyncError(`not an A1 range address: "${address}"`);
    const a = { row: Number(m[2]), col: columnToNumber(m[1]) };
    const b = m[3] ? { row: Number(m[4]), col: columnToNumber(m[3]) } : a;
    return {
      row1: Math.min(a.row, b.row),
      col1: Math.min(a.col, b.col),
      row2: Math.max(a.row, b.row),
      col2: Math.max(a.col, b.col),
    };
  }

  function formatA1Range({ row1, col1, row2, col2 }) {
    const start = `${numberToColumn(col1)}${row1}`;
    return row1 === row2 && col1 === col2 ? start : `${start}:${numberToColumn(col2)}${row2}`;
  }

  /** Splits "sheetai!C2" or "'My sheet'!C2" into {sheet, address}. */
  function parseCellRef(ref) {
    const text = String(ref || "");
    const bang = text.lastIndexOf("!");
    if (bang < 0) return { sheet: null, address: text };
    let sheet = text.slice(0, bang);
    if (sheet.startsWith("'") && sheet.endsWith("'")) sheet = sheet.slice(1, -1).replace(/''/g, "'");
    return { sheet, address: text.slice(bang + 1) };
  }

  // ---- reading ------------------------------------------------------------------

  /** Pads a used range's values so that row 1 / column A is the origin. */
  function padValues(values, rowIndex, columnIndex) {
    const width = columnIndex + (values.length ? values[0].length : 0);
    const blankRow = () => new Array(width).fill("");
    const out = [];
    for (let r = 0; r < rowIndex; r++) out.push(blankRow());
    for (const row of values) out.push(new Array(columnIndex).fill("").concat(row));
    return out;
  }

  /** Every worksheet's used range (values only), padded to start at A1: {"name": [[...]], ...}. */
  async function readWorkbook(excel) {
    return excel.run(async (context) => {
      const worksheets = context.workbook.worksheets;
      worksheets.load("items/name");
      await context.sync();
      const used = worksheets.items.map((ws) => {
        const range = ws.getUsedRangeOrNullObject(true);
        range.load("values,rowIndex,columnIndex");
        return { name: ws.name, range };
      });
      await context.sync();
      const sheets = {};
      for (const { name, range } of used) {
        sheets[name] = range.isNullObject ? [] : padValues(range.values, range.rowIndex, range.columnIndex);
      }
      return sheets;
    });
  }

  // ---- writing --------------------------------------------------------------

  /**
   * Strings Excel would parse as a formula or a signed number (or whose own
   * leading apostrophe it would swallow) get a leading apostrophe, so the cell
   * holds exactly the text the service sent.
   */
  // Text Excel would turn into something else on assignment: formulas and escapes, numbers
  // (a state fingerprint can be all digits), booleans, dates and times. Same rule as
  // excel_literal in sheetai/backends/excel.py.
  const NOT_TEXT = [
    /^[=+\-@']/,
    /^\s*[$€£¥(]?\s*[\d.,]+(?:e[+-]?\d+)?\s*%?\)?\s*$/i,
    /^\s*(?:true|false)\s*$/i,
    /^\s*\d{1,4}\s*[-/.:]\s*\d{1,4}/,
  ];

  function asLiteral(value) {
    if (typeof value === "string" && NOT_TEXT.some((re) => re.test(value))) return "'" + value;
    if (value === null || value === undefined) return "";
    return value;
  }

  /**
   * Checks the service's writes against their addresses and cuts big ones into
   * row slices of at most `maxCells` cells. A single-cell address with a larger
   * block of values is taken as the block's top-left corner.
   */
  function planWrites(writes, maxCells) {
    const planned = [];
    for (const w of writes) {
      const where = `${w && w.sheet}!${w && w.address}`;
      if (!w || typeof w.sheet !== "string" || !w.address || !Array.isArray(w.values)) {
        throw new SyncError(`malformed write from the service: ${JSON.stringify(w).slice(0, 200)}`);
      }
      const rows = w.values.length;
      const cols = rows ? w.values[0].length : 0;
      if (rows === 0 || cols === 0) continue;
      if (!w.values.every((r) => Array.isArray(r) && r.length === cols)) {
        throw new SyncError(`write to ${where}: rows of values have different lengths`);
      }
      let range = parseA1Range(w.address);
      const single = range.row1 === range.row2 && range.col1 === range.col2 && !String(w.address).includes(":");
      if (single) range = { row1: range.row1, col1: range.col1, row2: range.row1 + rows - 1, col2: range.col1 + cols - 1 };
      if (range.row2 - range.row1 + 1 !== rows || range.col2 - range.col1 + 1 !== cols) {
        throw new SyncError(`write to ${where}: address is ${range.row2 - range.row1 + 1}x${range.col2 - range.col1 + 1} but values are ${rows}x${cols}`);
      }
      const rowsPerSlice = Math.max(1, Math.floor(maxCells / cols));
      if (rows <= rowsPerSlice) {
        const address = single ? formatA1Range(range) : String(w.address).split("!").pop();
        planned.push({ sheet: w.sheet, address, values: w.values });
        continue;
      }
      for (let start = 0; start < rows; start += rowsPerSlice) {
        const slice = w.values.slice(start, start + rowsPerSlice);
        const row1 = range.row1 + start;
        planned.push({
          sheet: w.sheet,
          address: formatA1Range({ row1, col1: range.col1, row2: row1 + slice.length - 1, col2: range.col2 }),
          values: slice,
        });
      }
    }
    return planned;
  }

  /**
   * Creates `new_sheets` (hidden where asked) and writes `writes`, calling
   * context.sync() every `writesPerSync` writes or `maxCellsPerSync` cells.
   * Validates every write before touching the workbook.
   */
  async function applySyncResponse(excel, response, options = {}) {
    const writesPerSync = options.writesPerSync || DEFAULTS.writesPerSync;
    const maxCellsPerSync = options.maxCellsPerSync || DEFAULTS.maxCellsPerSync;
    const onProgress = options.onProgress || (() => {});
    const newSheets = Array.isArray(response.new_sheets) ? response.new_sheets : [];
    const planned = planWrites(Array.isArray(response.writes) ? response.writes : [], maxCellsPerSync);

    return excel.run(async (context) => {
      const worksheets = context.workbook.worksheets;
      worksheets.load("items/name");
      await context.sync();
      const known = new Map(worksheets.items.map((ws) => [ws.name.toLowerCase(), ws.name]));
      const toCreate = [];
      const toHide = [];
      for (const spec of newSheets) {
        const name = spec && spec.name;
        if (!name) continue;
        if (!known.has(name.toLowerCase())) {
          known.set(name.toLowerCase(), name);
          toCreate.push(spec);
        } else if (spec.hidden) {
          toHide.push(known.get(name.toLowerCase()));
        }
      }
      for (const w of planned) {
        if (!known.has(w.sheet.toLowerCase())) {
          throw new SyncError(`the service wrote to sheet "${w.sheet}", which is not in the workbook`);
        }
      }

      for (const spec of toCreate) {
        const ws = worksheets.add(spec.name);
        if (spec.hidden) ws.visibility = "Hidden";
      }
      for (const name of toHide) worksheets.getItem(name).visibility = "Hidden";
      const created = toCreate.map((spec) => spec.name);
      await context.sync();

      let pendingWrites = 0;
      let pendingCells = 0;
      let done = 0;
      onProgress({ phase: "writing", done, total: planned.length });
      for (const w of planned) {
        const ws = worksheets.getItem(known.get(w.sheet.toLowerCase()));
        ws.getRange(w.address).values = w.values.map((row) => row.map(asLiteral));
        pendingWrites += 1;
        pendingCells += w.values.length * w.values[0].length;
        done += 1;
        if (pendingWrites >= writesPerSync || pendingCells >= maxCellsPerSync) {
          await context.sync();
          pendingWrites = 0;
          pendingCells = 0;
          onProgress({ phase: "writing", done, total: planned.length });
        }
      }
      await context.sync();
      if (pendingWrites > 0) onProgress({ phase: "writing", done, total: planned.length });
      return { createdSheets: created, writes: planned.length };
    });
  }

  // ---- the whole sync ---------------------------------------------------------

  /**
   * Reads the workbook, asks the service what to write, writes it.
   * `trigger` ("edit" from Sync automatically) goes in the body when given; the service takes
   * an absent one as "button". Resolves with {summary, createdSheets, writes}; rejects with a
   * ServiceError (service side, `cell` set for a bad config) or a SyncError.
   */
  async function syncWorkbook({ excel, storage, fetchImpl, step = null, force = false, trigger = null, timeoutMs, signal, onProgress } = {}) {
    const progress = onProgress || (() => {});
    const connection = await client.loadConnection(storage);
    progress({ phase: "reading" });
    const sheets = await readWorkbook(excel);
    progress({ phase: "waiting", sheets: Object.keys(sheets).length, serviceUrl: connection.serviceUrl });
    const body = { sheets, step: step ? String(step) : null, force: Boolean(force) };
    if (trigger) body.trigger = String(trigger);
    const response = await client.postJson({
      serviceUrl: connection.serviceUrl,
      token: connection.token,
      path: "/v1/excel/sync",
      body,
      timeoutMs: timeoutMs || DEFAULTS.timeoutMs,
      signal,
      fetchImpl,
    });
    if (!response || typeof response !== "object" || !Array.isArray(response.writes || [])) {
      throw new SyncError("the service's sync answer has no list of writes");
    }
    const applied = await applySyncResponse(excel, response, { onProgress: progress });
    progress({ phase: "done" });
    return { summary: response.summary || {}, createdSheets: applied.createdSheets, writes: applied.writes };
  }

  /**
   * The service's summary as [label, text] rows for the pane: scalars that say
   * something (zero counts dropped), one row per step, messages joined.
   */
  function summaryLines(summary) {
    const lines = [];
    const describeStep = (s) => {
      const counts = Object.entries(s)
        .filter(([k, v]) => typeof v === "number" && v !== 0 && !["seconds"].includes(k))
        .map(([k, v]) => `${k.replace(/_/g, " ")} ${v}`);
      const status = s.status && s.status !== "done" ? ` [${s.status}]` : "";
      return counts.join(", ") + status;
    };
    for (const [key, value] of Object.entries(summary || {})) {
      const label = key.replace(/_/g, " ");
      if (Array.isArray(value)) {
        if (value.every((v) => v && typeof v === "object" && "step" in v)) {
          for (const s of value) lines.push([`step ${s.step}${s.sheet ? ` (${s.sheet})` : ""}`, describeStep(s)]);
        } else if (value.length > 0) {
          lines.push([label, value.map((v) => (typeof v === "object" ? JSON.stringify(v) : String(v))).join("\n")]);
        }
      } else if (value !== null && typeof value === "object") {
        lines.push([label, JSON.stringify(value)]);
      } else if (value !== 0 && value !== false && value !== "" && value !== null) {
        lines.push([label, String(value)]);
      }
    }
    return lines;
  }

  /** Selects the cell an error points at ("sheetai!C2"), if it exists. */
  async function selectCell(excel, ref) {
    const { sheet, address } = parseCellRef(ref);
    if (!sheet || !address) return false;
    return excel.run(async (context) => {
      const ws = context.workbook.worksheets.getItemOrNullObject(sheet);
      await context.sync();
      if (ws.isNullObject) return false;
      ws.activate();
      ws.getRange(address).select();
      await context.sync();
      return true;
    });
  }

  return {
    DEFAULTS,
    SyncError,
    applySyncResponse,
    asLiteral,
    columnToNumber,
    formatA1Range,
    numberToColumn,
    padValues,
    parseA1Range,
    parseCellRef,
    planWrites,
    readWorkbook,
    selectCell,
    summaryLines,
    syncWorkbook,
  };
});
