/**
 * "Sync automatically": installable onEdit / onChange triggers that ask the sheetai service to
 * sync this spreadsheet when a person changes a step's inputs, and mark the rows PENDING.
 *
 * Simple triggers cannot call UrlFetchApp, so these are installable triggers, created by the
 * menu for the person who turns the feature on; they run under that person's authorisation.
 *
 * sheetai's own writes never fire them: the service writes answers through the Sheets API, and
 * "script executions and API requests do not cause triggers to run" (Apps Script guide,
 * Installable triggers ▸ Restrictions). The PENDING marks written here are a script execution
 * too, so they do not fire the triggers again either.
 *
 * Quota: each trigger run makes at most one UrlFetch call, and none when another run sent one
 * for this spreadsheet in the last SHEETAI_EDIT_GAP_SECONDS (the service coalesces the burst
 * into one sync after its quiet period anyway). See sheets_addon/README.md for the arithmetic.
 */

/** The handler functions of our triggers; a trigger with another handler is not ours. */
var SHEETAI_ON_EDIT_HANDLER = 'sheetaiOnEdit';
var SHEETAI_ON_CHANGE_HANDLER = 'sheetaiOnChange';
/** The config tab the service reads (its `config_tab` setting, "sheetai" unless changed). */
var SHEETAI_CONFIG_TAB = 'sheetai';
var SHEETAI_PENDING = 'PENDING';
/**
 * No second request within this many seconds of the last one for this spreadsheet. Shorter
 * than the service's quiet period (SHEETAI_EDIT_QUIET_SECONDS, 10 by default): the sync it
 * starts reads the sheet after every edit that was not reported on its own.
 */
var SHEETAI_EDIT_GAP_SECONDS = 5;
/** Flags the engine writes (sheetai/engine/plan.py): a PENDING mark may replace them. */
var SHEETAI_ENGINE_FLAGS_ = ['LOW_CONFIDENCE', 'INVALID_OUTPUT', 'NEEDS_REVIEW', SHEETAI_PENDING];

// ---------------------------------------------------------------------------------------------
// Menu: turn on / off
// ---------------------------------------------------------------------------------------------

/** Menu: install the onEdit and onChange triggers for this spreadsheet (never twice). */
function sheetaiAutoSyncOn() {
  withAlerts_(function () {
    requireSettings_();
    var added = installAutoSync_(SpreadsheetApp.getActive());
    var ui = SpreadsheetApp.getUi();
    ui.alert('sheetai \u25B8 Sync automatically', (added ? 'Turned on.' : 'It was already on.') +
      ' When someone types, pastes or inserts rows in a step\'s input columns, the rows\' flag ' +
      'cells show ' + SHEETAI_PENDING + ' and the service syncs this spreadsheet a few seconds ' +
      'after the last edit. The triggers run under your account.',
      ui.ButtonSet.OK);
  });
}

/** Menu: remove this spreadsheet's sheetai triggers, leaving every other trigger alone. */
function sheetaiAutoSyncOff() {
  withAlerts_(function () {
    var removed = removeAutoSync_(SpreadsheetApp.getActive());
    var ui = SpreadsheetApp.getUi();
    ui.alert('sheetai \u25B8 Sync automatically', removed ? 'Turned off.' :
      'It was not on (for your account): nothing to turn off.', ui.ButtonSet.OK);
  });
}

/** This user's triggers of this script on `spreadsheet` whose handler is one of ours. */
function autoSyncTriggers_(spreadsheet) {
  return ScriptApp.getUserTriggers(spreadsheet).filter(function (trigger) {
    var handler = trigger.getHandlerFunction();
    return handler === SHEETAI_ON_EDIT_HANDLER || handler === SHEETAI_ON_CHANGE_HANDLER;
  });
}

/** Creates whichever of the two triggers is missing; returns how many were created. */
function installAutoSync_(spreadsheet) {
  var have = {};
  autoSyncTriggers_(spreadsheet).forEach(function (trigger) {
    have[trigger.getHandlerFunction()] = true;
  });
  var added = 0;
  if (!have[SHEETAI_ON_EDIT_HANDLER]) {
    ScriptApp.newTrigger(SHEETAI_ON_EDIT_HANDLER).forSpreadsheet(spreadsheet).onEdit().create();
    added++;
  }
  if (!have[SHEETAI_ON_CHANGE_HANDLER]) {
    ScriptApp.newTrigger(SHEETAI_ON_CHANGE_HANDLER).forSpreadsheet(spreadsheet).onChange().create();
    added++;
  }
  return added;
}

/** Deletes our triggers on `spreadsheet`; returns how many were deleted. */
function removeAutoSync_(spreadsheet) {
  var ours = autoSyncTriggers_(spreadsheet);
  ours.forEach(function (trigger) { ScriptApp.deleteTrigger(trigger); });
  return ours.length;
}

// ---------------------------------------------------------------------------------------------
// Trigger handlers
// ---------------------------------------------------------------------------------------------

/** Installable onEdit: typed and pasted values; `e.range` is the edited range. */
function sheetaiOnEdit(e) {
  if (!e || !e.range) return null;
  var range = e.range;
  var spreadsheet = e.source || SpreadsheetApp.getActive();
  return autoSync_(spreadsheet, range.getSheet(), {
    row1: range.getRow(), row2: range.getLastRow(),
    col1: range.getColumn(), col2: range.getLastColumn()
  });
}

/**
 * Installable onChange: only INSERT_ROW is ours (an EDIT also reaches onEdit, with its range).
 * The change event carries no range; after Insert row the inserted rows are the selection.
 */
function sheetaiOnChange(e) {
  if (!e || e.changeType !== 'INSERT_ROW') return null;
  var spreadsheet = e.source || SpreadsheetApp.getActive();
  var range = spreadsheet.getActiveRange();
  if (!range) return null;
  return autoSync_(spreadsheet, range.getSheet(), {
    row1: range.getRow(), row2: range.getLastRow(), col1: 1, col2: Number.MAX_SAFE_INTEGER
  });
}

/**
 * Marks PENDING and requests a sync when `area` (1-based rows and columns of `sheet`) touches a
 * step's input columns below the header row, on rows that hold an input value.
 * Returns {marked, requested} (for the tests and the execution log).
 */
function autoSync_(spreadsheet, sheet, area) {
  var outcome = { marked: 0, requested: false };
  var name = sheet.getName();
  if (name === SHEETAI_CONFIG_TAB) return outcome;
  var row1 = Math.max(area.row1, 2);
  if (row1 > area.row2) return outcome;

  var configTab = spreadsheet.getSheetByName(SHEETAI_CONFIG_TAB);
  if (!configTab) return outcome;
  var steps = stepsOnSheet_(readConfigSteps_(tabValues_(configTab)), name);
  if (!steps.length) return outcome;
  var width = sheet.getLastColumn();
  if (width < 1) return outcome;
  var header = sheet.getRange(1, 1, 1, width).getValues()[0];
  var touched = steps.map(function (step) { return stepColumns_(step, header); })
    .filter(function (cols) { return touchesColumns_(cols.inputs, area.col1, area.col2); });
  if (!touched.length) return outcome;

  var row2 = Math.min(area.row2, Math.max(sheet.getLastRow(), row1));
  var rows = sheet.getRange(row1, 1, row2 - row1 + 1, width).getValues();
  var marks = pendingMarks_(touched, rows, row1);
  if (!marks.any) return outcome;

  writeMarks_(sheet, marks.cells, SHEETAI_PENDING);
  outcome.marked = marks.cells.length;
  outcome.requested = requestEditSync_(spreadsheet.getId(), sheet, marks.cells);
  return outcome;
}

// ---------------------------------------------------------------------------------------------
// Which steps, columns and rows: pure, over plain values
// ---------------------------------------------------------------------------------------------

/** The config tab's cells, row 1 first. */
function tabValues_(sheet) {
  var rows = sheet.getLastRow();
  var columns = sheet.getLastColumn();
  if (rows < 1 || columns < 1) return [];
  return sheet.getRange(1, 1, rows, columns).getValues();
}

/** A header as the service matches it: case- and space-insensitive (sheetai/text.py). */
function normHeader_(value) {
  return cellText_(value).replace(/\s+/g, ' ').trim().toLowerCase();
}

/**
 * {sheet, inputs: [names], output} for each step row of the config tab; rows the service would
 * refuse (no sheet, input or output) are skipped: their sync fails with the reason anyway.
 */
function readConfigSteps_(values) {
  if (!values.length) return [];
  var columns = {};
  values[0].forEach(function (value, index) {
    var key = normHeader_(value);
    if (key && !Object.prototype.hasOwnProperty.call(columns, key)) columns[key] = index;
  });
  var get = function (row, header) {
    var index = columns[header];
    return index === undefined ? '' : cellText_(row[index]).trim();
  };
  var steps = [];
  for (var r = 1; r < values.length; r++) {
    var sheet = get(values[r], 'sheet');
    var inputs = get(values[r], 'input').split(',')
      .map(function (part) { return part.trim(); })
      .filter(function (part) { return part !== ''; });
    var output = get(values[r], 'output');
    if (sheet && inputs.length && output) steps.push({ sheet: sheet, inputs: inputs, output: output });
  }
  return steps;
}

function stepsOnSheet_(steps, sheetName) {
  var key = normHeader_(sheetName);
  return steps.filter(function (step) { return normHeader_(step.sheet) === key; });
}

/**
 * 1-based columns of a step's inputs (those found in the header) and of its flag, "<Output>
 * flag" as the engine names it (Step.output_columns); flag is 0 before the first sync made it.
 */
function stepColumns_(step, header) {
  var index = {};
  header.forEach(function (value, i) {
    var key = normHeader_(value);
    if (key && !Object.prototype.hasOwnProperty.call(index, key)) index[key] = i + 1;
  });
  var inputs = [];
  step.inputs.forEach(function (name) {
    var col = index[normHeader_(name)];
    if (col) inputs.push(col);
  });
  return { inputs: inputs, flag: index[normHeader_(step.output + ' flag')] || 0 };
}

function touchesColumns_(columns, col1, col2) {
  return columns.some(function (col) { return col >= col1 && col <= col2; });
}

/**
 * The flag cells to mark: for each touched step, each row (of `rows`, the first being sheet row
 * `row1`) with an input value. A flag cell holding a person's own note is left alone; one
 * holding an engine flag is replaced. `any` is whether some row has an input value at all (a
 * cleared input or an empty inserted row changes no answer: nothing is requested).
 */
function pendingMarks_(touched, rows, row1) {
  var cells = [];
  var seen = {};
  var any = false;
  touched.forEach(function (cols) {
    rows.forEach(function (row, i) {
      var hasInput = cols.inputs.some(function (col) { return cellText_(row[col - 1]).trim() !== ''; });
      if (!hasInput) return;
      any = true;
      if (!cols.flag) return;
      var key = (row1 + i) + ',' + cols.flag;
      if (seen[key] || !isEngineFlag_(row[cols.flag - 1])) return;
      seen[key] = true;
      cells.push({ row: row1 + i, col: cols.flag });
    });
  });
  return { cells: cells, any: any };
}

/** Blank, or a flag the engine writes and rewrites (so a PENDING mark cannot hide a note). */
function isEngineFlag_(value) {
  var text = cellText_(value).trim();
  return text === '' || SHEETAI_ENGINE_FLAGS_.indexOf(text) >= 0 || text.indexOf('ERROR: ') === 0;
}

/** Runs of consecutive rows in one column: [{row, col, count}], so each run is one write. */
function markRuns_(cells) {
  var sorted = cells.slice().sort(function (a, b) { return a.col - b.col || a.row - b.row; });
  var runs = [];
  sorted.forEach(function (cell) {
    var last = runs[runs.length - 1];
    if (last && last.col === cell.col && last.row + last.count === cell.row) last.count++;
    else runs.push({ row: cell.row, col: cell.col, count: 1 });
  });
  return runs;
}

function writeMarks_(sheet, cells, text) {
  markRuns_(cells).forEach(function (run) {
    var values = [];
    for (var i = 0; i < run.count; i++) values.push([text]);
    sheet.getRange(run.row, run.col, run.count, 1).setValues(values);
  });
}

// ---------------------------------------------------------------------------------------------
// The request
// ---------------------------------------------------------------------------------------------

/**
 * The JSON body of POST /v1/sync for an edit. The nonce makes every body unique: two users'
 * triggers asking in the same second would otherwise sign the same bytes, and the service
 * refuses the second as a replay.
 */
function editSyncBody_(sheetId) {
  return {
    spreadsheet_id: sheetId, step: null, force: false, trigger: 'edit', nonce: Utilities.getUuid()
  };
}

/**
 * Sends one signed POST /v1/sync with trigger "edit", unless one was sent for this spreadsheet
 * in the last SHEETAI_EDIT_GAP_SECONDS (CacheService: no daily quota, shared by every user's
 * triggers). No 401 retry here, unlike the menu: a replayed signature means another run sent
 * the same request this second, which is all that is needed. On failure the marks become an
 * "ERROR: …" flag (the engine rewrites those), and the error is rethrown so the run shows as
 * failed in Apps Script's Executions and in its failure emails.
 */
function requestEditSync_(sheetId, sheet, marked) {
  var cache = CacheService.getScriptCache();
  var key = 'sheetai-edit-sync:' + sheetId;
  if (cache.get(key)) return false;
  cache.put(key, String(nowSeconds_()), SHEETAI_EDIT_GAP_SECONDS);
  try {
    var settings = requireSettings_();
    var request = buildRequest_(settings, sheetId, 'post', '/v1/sync', editSyncBody_(sheetId),
      nowSeconds_());
    parseAnswer_(fetchOne_(request), settings.url);
    return true;
  } catch (err) {
    cache.remove(key);
    var message = err && err.message ? err.message : String(err);
    writeMarks_(sheet, marked, 'ERROR: sync not requested: ' + truncate_(message, 200));
    throw err;
  }
}
