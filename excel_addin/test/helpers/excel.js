"use strict";
/*
 * A stub of the slice of the Excel JavaScript API the add-in uses, with the
 * same batching model: property writes are queued and applied at
 * context.sync(); loaded properties can only be read after a sync.
 *
 *   const wb = new FakeWorkbook({ Feedback: { origin: "C3", rows: [["Review"], ["good"]] } });
 *   await readWorkbook(wb.excel);
 */
const { parseA1Range, formatA1Range } = require("../../src/sync.js");

class FakeSheet {
  constructor(name, { visibility = "Visible" } = {}) {
    this.name = name;
    this.visibility = visibility;
    this.cells = new Map(); // "row,col" (1-based) -> value
  }

  set(row, col, value) {
    if (value === "" || value === null || value === undefined) this.cells.delete(`${row},${col}`);
    else this.cells.set(`${row},${col}`, value);
  }

  get(row, col) {
    const v = this.cells.get(`${row},${col}`);
    return v === undefined ? "" : v;
  }

  /** Values of an A1 range, "" for empty cells. */
  values(address) {
    const r = parseA1Range(address);
    const out = [];
    for (let row = r.row1; row <= r.row2; row++) {
      const line = [];
      for (let col = r.col1; col <= r.col2; col++) line.push(this.get(row, col));
      out.push(line);
    }
    return out;
  }

  usedRange() {
    if (this.cells.size === 0) return null;
    let row1 = Infinity;
    let col1 = Infinity;
    let row2 = 0;
    let col2 = 0;
    for (const key of this.cells.keys()) {
      const [row, col] = key.split(",").map(Number);
      row1 = Math.min(row1, row);
      col1 = Math.min(col1, col);
      row2 = Math.max(row2, row);
      col2 = Math.max(col2, col);
    }
    return { row1, col1, row2, col2 };
  }
}

class FakeWorkbook {
  /** `sheets`: {name: {origin: "A1", rows: [[...]], visibility}} in tab order. */
  constructor(sheets = {}) {
    this.sheets = [];
    this.writeLog = []; // {sheet, address, values} in the order they reached the workbook
    this.syncCount = 0;
    this.runCount = 0;
    this.selected = null;
    for (const [name, spec] of Object.entries(sheets)) {
      const sheet = new FakeSheet(name, { visibility: spec.visibility });
      const origin = parseA1Range(spec.origin || "A1");
      (spec.rows || []).forEach((line, i) => line.forEach((v, j) => sheet.set(origin.row1 + i, origin.col1 + j, v)));
      this.sheets.push(sheet);
    }
    this.handlers = []; // {sheet, handler, context} registered with onChanged.add and synced
    this.excel = { run: (contextOrBatch, batch) => this.run(contextOrBatch, batch) };
  }

  /** Calls the onChanged handlers of `sheet` as Excel would, with WorksheetChangedEventArgs. */
  async fireChanged(sheet, args) {
    const event = Object.assign({ type: "WorksheetChanged", source: "Local", changeType: "RangeEdited", triggerSource: "Unknown" }, args);
    for (const h of this.handlers.filter((x) => x.sheet.toLowerCase() === sheet.toLowerCase())) {
      await h.handler(event);
    }
  }

  sheet(name) {
    return this.sheets.find((s) => s.name.toLowerCase() === String(name).toLowerCase()) || null;
  }

  /** Excel.run(batch), or Excel.run(context, batch) to reuse a context (removing handlers). */
  async run(contextOrBatch, batch) {
    this.runCount += 1;
    if (typeof contextOrBatch === "function") return contextOrBatch(new FakeContext(this));
    if (!(contextOrBatch instanceof FakeContext)) throw new Error("Excel.run: not a request context");
    return batch(contextOrBatch);
  }
}

class ItemNotFound extends Error {
  constructor(name) {
    super(`The requested resource doesn't exist: worksheet "${name}"`);
    this.code = "ItemNotFound";
  }
}

class FakeContext {
  constructor(wb) {
    this.wb = wb;
    this.queue = [];
    this.onSync = [];
    this.workbook = { worksheets: new WorksheetCollectionProxy(this) };
  }

  async sync() {
    this.wb.syncCount += 1;
    const queue = this.queue;
    this.queue = [];
    for (const op of queue) op();
    const loads = this.onSync;
    this.onSync = [];
    for (const load of loads) load();
  }
}

function loadable(target, ctx, compute) {
  let loaded = false;
  let data = {};
  target.load = () => {
    ctx.onSync.push(() => {
      data = compute();
      loaded = true;
    });
    return target;
  };
  target._get = (prop) => {
    if (!loaded) throw new Error(`PropertyNotLoaded: ${prop} (call load() and context.sync() first)`);
    return data[prop];
  };
}

class WorksheetCollectionProxy {
  constructor(ctx) {
    this.ctx = ctx;
    loadable(this, ctx, () => ({ items: ctx.wb.sheets.map((s) => new WorksheetProxy(ctx, s.name)) }));
  }

  get items() {
    return this._get("items");
  }

  getItem(name) {
    return new WorksheetProxy(this.ctx, name);
  }

  getItemOrNullObject(name) {
    const proxy = new WorksheetProxy(this.ctx, name);
    proxy.isNullObject = this.ctx.wb.sheet(name) === null;
    return proxy;
  }

  add(name) {
    const ctx = this.ctx;
    ctx.queue.push(() => {
      if (ctx.wb.sheet(name)) throw new Error(`ItemAlreadyExists: worksheet "${name}"`);
      ctx.wb.sheets.push(new FakeSheet(name));
    });
    return new WorksheetProxy(ctx, name);
  }
}

class WorksheetProxy {
  constructor(ctx, name) {
    this.ctx = ctx;
    this.name = name;
  }

  _sheet() {
    const sheet = this.ctx.wb.sheet(this.name);
    if (!sheet) throw new ItemNotFound(this.name);
    return sheet;
  }

  /** OfficeExtension.EventHandlers: add() takes effect at sync; remove() only in the same context. */
  get onChanged() {
    const ctx = this.ctx;
    const sheet = this.name;
    return {
      add(handler) {
        const record = { sheet, handler, context: ctx };
        ctx.queue.push(() => {
          if (!ctx.wb.sheet(sheet)) throw new ItemNotFound(sheet);
          ctx.wb.handlers.push(record);
        });
        return {
          context: ctx,
          remove() {
            if (!ctx.wb.handlers.includes(record)) throw new Error("InvalidOperation: handler not registered");
            ctx.queue.push(() => {
              ctx.wb.handlers.splice(ctx.wb.handlers.indexOf(record), 1);
            });
          },
        };
      },
    };
  }

  set visibility(value) {
    this.ctx.queue.push(() => {
      this._sheet().visibility = value;
    });
  }

  getUsedRangeOrNullObject(valuesOnly) {
    if (valuesOnly !== true) throw new Error("stub only models getUsedRangeOrNullObject(true)");
    const range = {};
    loadable(range, this.ctx, () => {
      const used = this._sheet().usedRange();
      if (!used) return { isNullObject: true };
      return {
        isNullObject: false,
        rowIndex: used.row1 - 1,
        columnIndex: used.col1 - 1,
        values: this._sheet().values(formatA1Range(used)),
        address: `${this.name}!${formatA1Range(used)}`,
      };
    });
    for (const prop of ["isNullObject", "rowIndex", "columnIndex", "values", "address"]) {
      Object.defineProperty(range, prop, { get: () => range._get(prop) });
    }
    return range;
  }

  getRange(address) {
    const ctx = this.ctx;
    const self = this;
    return {
      set values(values) {
        ctx.queue.push(() => {
          const sheet = self._sheet();
          const r = parseA1Range(address);
          const rows = r.row2 - r.row1 + 1;
          const cols = r.col2 - r.col1 + 1;
          if (values.length !== rows || values.some((line) => line.length !== cols)) {
            throw new Error(`InvalidArgument: values do not match the size of ${address}`);
          }
          values.forEach((line, i) => line.forEach((v, j) => sheet.set(r.row1 + i, r.col1 + j, v)));
          ctx.wb.writeLog.push({ sheet: sheet.name, address, values });
        });
      },
      select() {
        ctx.queue.push(() => {
          ctx.wb.selected = `${self.name}!${address}`;
        });
      },
    };
  }

  activate() {
    this.ctx.queue.push(() => this._sheet());
  }
}

module.exports = { FakeWorkbook, FakeSheet };
