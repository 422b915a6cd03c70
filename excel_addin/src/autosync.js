/*
 * "Sync automatically": listens for worksheet changes (Worksheet.onChanged, ExcelApi 1.7) on the
 * sheets the `sheetai` tab's steps read, keeps the changes a person made to a step's input
 * columns below the header row, and runs one sync a few seconds after the last of them.
 *
 * Changes that never ask for a sync: other columns and sheets, the header row, rows inserted or
 * deleted (they hold no new input), changes from other people's copies (source "Remote": their
 * own add-in answers them), and the add-in's own writes (triggerSource "ThisLocalAddin",
 * ExcelApi 1.14; on older Excel, every change without a triggerSource while a sync started
 * here is running). A change to the `sheetai` tab re-reads which columns to watch.
 *
 * Loaded as a classic <script> in the add-in (exposes `SheetAIAutoSync`, needs sync.js first)
 * and with require() in Node.
 */
/* global module, require, self, setTimeout, clearTimeout */
(function (root, factory) {
  if (typeof module === "object" && module.exports) {
    module.exports = factory(require("./sync.js"));
  } else {
    root.SheetAIAutoSync = factory(root.SheetAISync);
  }
})(typeof self !== "undefined" ? self : this, function (sync) {
  "use strict";

  const CONFIG_TAB = "sheetai";
  const SETTING_KEY = "sheetai.autoSync";
  const DEFAULTS = Object.freeze({ quietMs: 3000 });
  const ALL = Number.MAX_SAFE_INTEGER;

  // ---- which columns to watch (pure) -------------------------------------------------------

  /** A header as the service matches it: case- and space-insensitive (sheetai/text.py). */
  function normHeader(value) {
    return String(value === null || value === undefined ? "" : value).replace(/\s+/g, " ").trim().toLowerCase();
  }

  function headerIndex(header) {
    const index = new Map();
    (header || []).forEach((value, i) => {
      const key = normHeader(value);
      if (key && !index.has(key)) index.set(key, i + 1);
    });
    return index;
  }

  /** {sheet, inputs: [names]} for each config row with a sheet and inputs. */
  function readSteps(configValues) {
    const rows = configValues || [];
    if (!rows.length) return [];
    const columns = headerIndex(rows[0]);
    const get = (row, name) => {
      const col = columns.get(name);
      return col ? String(row[col - 1] === null || row[col - 1] === undefined ? "" : row[col - 1]).trim() : "";
    };
    const steps = [];
    for (const row of rows.slice(1)) {
      const sheet = get(row, "sheet");
      const inputs = get(row, "input").split(",").map((s) => s.trim()).filter(Boolean);
      if (sheet && inputs.length) steps.push({ sheet, inputs });
    }
    return steps;
  }

  /**
   * Sheet name (as the workbook spells it) -> 1-based input columns of every step on it, from
   * every sheet's values padded to A1 (sync.readWorkbook).
   */
  function watchPlan(sheets) {
    const names = new Map(Object.keys(sheets).map((name) => [normHeader(name), name]));
    const configName = names.get(CONFIG_TAB);
    const plan = {};
    for (const step of readSteps(configName ? sheets[configName] : [])) {
      const name = names.get(normHeader(step.sheet));
      if (!name || name === configName) continue;
      const index = headerIndex((sheets[name] || [])[0]);
      const cols = step.inputs.map((input) => index.get(normHeader(input))).filter(Boolean);
      if (!cols.length) continue;
      plan[name] = Array.from(new Set((plan[name] || []).concat(cols))).sort((a, b) => a - b);
    }
    return plan;
  }

  /**
   * parseChangedArea("Feedback!B2:C9") -> {row1: 2, col1: 2, row2: 9, col2: 3}; whole columns
   * ("B:C") and whole rows ("3:5") are open-ended.
   */
  function parseChangedArea(address) {
    const bare = String(address || "").split("!").pop().replace(/\$/g, "").trim();
    const cols = /^([A-Za-z]{1,3}):([A-Za-z]{1,3})$/.exec(bare);
    if (cols) {
      const [a, b] = [sync.columnToNumber(cols[1]), sync.columnToNumber(cols[2])];
      return { row1: 1, row2: ALL, col1: Math.min(a, b), col2: Math.max(a, b) };
    }
    const rows = /^(\d+):(\d+)$/.exec(bare);
    if (rows) {
      const [a, b] = [Number(rows[1]), Number(rows[2])];
      return { row1: Math.min(a, b), row2: Math.max(a, b), col1: 1, col2: ALL };
    }
    return sync.parseA1Range(bare);
  }

  /**
   * Whether a WorksheetChangedEventArgs may change an answer: a person's local edit or paste
   * (changeType "RangeEdited") below the header row touching one of `inputCols`.
   */
  function isInputChange(inputCols, args) {
    if (!args || args.source !== "Local" || args.triggerSource === "ThisLocalAddin") return false;
    if (args.changeType !== "RangeEdited") return false;
    let area;
    try {
      area = parseChangedArea(args.address);
    } catch (_err) {
      return false;
    }
    if (area.row2 < 2) return false;
    return (inputCols || []).some((col) => col >= area.col1 && col <= area.col2);
  }

  // ---- the toggle, kept in the workbook's own settings ------------------------------------

  /** Office.context.document.settings as {get, set}: the toggle travels with the workbook. */
  function documentSettings(settings) {
    return {
      get: (key) => settings.get(key),
      set: (key, value) =>
        new Promise((resolve, reject) => {
          settings.set(key, value);
          settings.saveAsync((result) => (result && result.status === "failed" ? reject(result.error) : resolve()));
        }),
    };
  }

  async function loadToggle(settings) {
    return Boolean(settings && (await settings.get(SETTING_KEY)) === true);
  }

  async function saveToggle(settings, on) {
    await settings.set(SETTING_KEY, Boolean(on));
  }

  // ---- listening ------------------------------------------------------------------------------

  /**
   * Watches the step sheets while enabled and calls `runSync()` (the pane's Sync path with
   * trigger "edit") `quietMs` after the last input change. One sync at a time: changes during a
   * sync make exactly one more sync after it.
   */
  class AutoSync {
    constructor({ excel, runSync, quietMs = DEFAULTS.quietMs, onError = () => {} }) {
      this.excel = excel;
      this.runSync = runSync;
      this.quietMs = quietMs;
      this.onError = onError;
      this.plan = {};
      this.handles = [];
      this.timer = null;
      this.refreshTimer = null;
      this.running = null;
      this.again = false;
      this.enabled = false;
    }

    /** Reads which columns to watch and registers the handlers; resolves with the watched sheets. */
    async enable() {
      this.enabled = true;
      await this.listen();
      return Object.keys(this.plan);
    }

    /** Removes every handler and forgets a sync not started yet. */
    async disable() {
      this.enabled = false;
      this.cancel("timer");
      this.cancel("refreshTimer");
      await this.unlisten();
    }

    async listen() {
      const sheets = await sync.readWorkbook(this.excel);
      this.plan = watchPlan(sheets);
      const configName = Object.keys(sheets).find((name) => normHeader(name) === CONFIG_TAB);
      const names = Object.keys(this.plan).concat(configName ? [configName] : []);
      await this.unlisten();
      this.handles = await this.excel.run(async (context) => {
        const handles = names.map((name) =>
          context.workbook.worksheets.getItem(name).onChanged.add((args) => {
            this.changed(name, name === configName, args);
            return Promise.resolve();
          }),
        );
        await context.sync();
        return handles;
      });
    }

    async unlisten() {
      const handles = this.handles;
      this.handles = [];
      if (!handles.length) return;
      // A handler is removed in the request context it was added in (EventHandlerResult.context).
      await this.excel.run(handles[0].context, async (context) => {
        for (const handle of handles) handle.remove();
        await context.sync();
      });
    }

    changed(name, isConfig, args) {
      if (!this.enabled) return;
      if (this.running && args && args.triggerSource === undefined) return; // old Excel: maybe ours
      if (isConfig) {
        if (args && args.source === "Local" && args.triggerSource !== "ThisLocalAddin") this.later("refreshTimer", () => this.refresh());
        return;
      }
      if (!isInputChange(this.plan[name], args)) return;
      if (this.running) {
        this.again = true;
        return;
      }
      this.later("timer", () => this.fire());
    }

    later(slot, fn) {
      this.cancel(slot);
      this[slot] = setTimeout(() => {
        this[slot] = null;
        fn();
      }, this.quietMs);
    }

    cancel(slot) {
      if (this[slot] !== null) clearTimeout(this[slot]);
      this[slot] = null;
    }

    async refresh() {
      if (!this.enabled) return;
      try {
        await this.listen();
      } catch (err) {
        this.onError(err);
      }
    }

    /** Runs the sync now; resolves when it (and any follow-up it needs) has been started. */
    async fire() {
      if (!this.enabled) return;
      if (this.running) {
        this.again = true;
        return;
      }
      this.running = (async () => {
        try {
          await this.runSync();
        } catch (err) {
          this.onError(err);
        }
      })();
      await this.running;
      this.running = null;
      if (this.again && this.enabled) {
        this.again = false;
        this.later("timer", () => this.fire());
      }
    }
  }

  return {
    AutoSync,
    CONFIG_TAB,
    DEFAULTS,
    SETTING_KEY,
    documentSettings,
    isInputChange,
    loadToggle,
    parseChangedArea,
    readSteps,
    saveToggle,
    watchPlan,
  };
});
