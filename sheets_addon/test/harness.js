'use strict';
/**
 * Loads the project's .gs files (Code.gs, AutoSync.gs) into one node:vm context with stubs of
 * the Apps Script services they use.
 *
 * UrlFetchApp is a recorded-responses stub, not a real server: every request is recorded
 * (url, method, headers, payload, ...) and answered by the test's `service(request)` handler,
 * which returns `{code, body}` (body: object -> JSON, or string) or throws to simulate an
 * unreachable host. Apps Script's fetch is synchronous, and a stub keeps it so without a
 * worker-thread bridge. Like the real service, a >= 400 answer throws unless
 * muteHttpExceptions is true.
 *
 * Utilities.computeHmacSha256Signature returns signed bytes (-128..127) as Apps Script does
 * and accepts only its real overloads: (String, String), (String, String, Charset) and
 * (Byte[], Byte[]). Without a charset it encodes strings as Latin-1, modelling the documented
 * pitfall that the two-string overload is not reliably UTF-8.
 *
 * Time is fake: Date.now() in the script reads `clock.now`, and Utilities.sleep advances it.
 */
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const crypto = require('node:crypto');

const ADDON_DIR = path.join(__dirname, '..');
// Apps Script puts every .gs file of the project in one global scope; Code.gs first, as listed.
const SCRIPT_FILES = ['Code.gs'].concat(
  fs.readdirSync(ADDON_DIR).filter((f) => f.endsWith('.gs') && f !== 'Code.gs').sort());
const START_MS = Date.UTC(2024, 0, 2, 3, 4, 5);

const toSigned = (buf) => Array.from(buf, (b) => (b > 127 ? b - 256 : b));
const toUnsigned = (bytes) => Buffer.from(bytes.map((b) => b & 0xff));

function makeUtilities(clock) {
  const Charset = { UTF_8: 'UTF_8', US_ASCII: 'US_ASCII' };
  const encode = (value, charset) => {
    if (charset === Charset.UTF_8) return Buffer.from(value, 'utf8');
    if (charset === Charset.US_ASCII) return Buffer.from(value, 'ascii');
    return Buffer.from(value, 'latin1');
  };
  return {
    Charset,
    getUuid() {
      return crypto.randomUUID();
    },
    sleep(ms) {
      clock.sleeps.push(ms);
      clock.now += ms;
    },
    computeHmacSha256Signature(value, key, charset) {
      const kind = (v) => (typeof v === 'string' ? 'String' : Array.isArray(v) ? 'number[]' : typeof v);
      const kinds = [kind(value), kind(key)];
      const strings = kinds[0] === 'String' && kinds[1] === 'String';
      const bytes = kinds[0] === 'number[]' && kinds[1] === 'number[]';
      if (!(strings || (bytes && charset === undefined)) || arguments.length > 3) {
        throw new Error(`The parameters (${kinds.join(',')}) don't match the method signature ` +
          'for Utilities.computeHmacSha256Signature.');
      }
      const mac = strings
        ? crypto.createHmac('sha256', encode(key, charset)).update(encode(value, charset))
        : crypto.createHmac('sha256', toUnsigned(key)).update(toUnsigned(value));
      return toSigned(mac.digest());
    },
    base64Encode(data) {
      return (typeof data === 'string' ? Buffer.from(data, 'utf8') : toUnsigned(data)).toString('base64');
    },
  };
}

function makeResponse(answer) {
  const code = answer.code === undefined ? 200 : answer.code;
  const body = answer.body === undefined ? '' : answer.body;
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return {
    getResponseCode: () => code,
    getContentText: () => text,
    getHeaders: () => ({ 'Content-Type': 'application/json' }),
  };
}

function makeUrlFetchApp(state) {
  const send = (url, params) => {
    const request = Object.assign({ url }, JSON.parse(JSON.stringify(params || {})));
    request.method = request.method || 'get';
    request.at = state.clock.now;
    state.requests.push(request);
    const response = makeResponse(state.service(request));
    if (response.getResponseCode() >= 400 && !request.muteHttpExceptions) {
      throw new Error(`Request failed for ${url} returned code ${response.getResponseCode()}.`);
    }
    return response;
  };
  return {
    fetch(url, params) {
      state.fetchCalls.push(1);
      return send(url, params);
    },
    fetchAll(requests) {
      state.fetchAllCalls.push(requests.length);
      return requests.map((r) => send(r.url, Object.assign({}, r, { url: undefined })));
    },
  };
}

/**
 * One tab: its 2-D values (row 1 first) shared with the test, so writes show in `state.tabs`.
 * Writes are recorded in `state.writes` as {tab, row, column, values}.
 */
function makeSheet(state, name) {
  const values = state.tabs[name];
  const width = () => values.reduce((w, row) => Math.max(w, row.length), 0);
  const sheet = {
    getName: () => name,
    getLastRow: () => values.length,
    getLastColumn: width,
    getRange(row, column, numRows, numColumns) {
      const rows = numRows || 1;
      const columns = numColumns || 1;
      return {
        getSheet: () => sheet,
        getRow: () => row,
        getLastRow: () => row + rows - 1,
        getColumn: () => column,
        getLastColumn: () => column + columns - 1,
        getValues: () => {
          const out = [];
          for (let r = row; r < row + rows; r++) {
            const cells = (values[r - 1] || []).slice(column - 1, column - 1 + columns);
            while (cells.length < columns) cells.push('');
            out.push(cells);
          }
          return out;
        },
        setValues(block) {
          if (block.length !== rows || block.some((line) => line.length !== columns)) {
            throw new Error('Exception: The number of rows or columns in the data does not match the range.');
          }
          block.forEach((line, i) => line.forEach((value, j) => {
            while (values.length < row + i) values.push([]);
            const target = values[row + i - 1];
            while (target.length < column + j) target.push('');
            target[column + j - 1] = value;
          }));
          state.writes.push({ tab: name, row, column, values: JSON.parse(JSON.stringify(block)) });
        },
      };
    },
  };
  return sheet;
}

function makeSpreadsheetApp(state) {
  const guard = (what) => {
    if (state.customFunction) {
      throw new Error(`Exception: You do not have permission to call ${what} from a custom function.`);
    }
  };
  const ButtonSet = { OK: 'OK', OK_CANCEL: 'OK_CANCEL', YES_NO: 'YES_NO', YES_NO_CANCEL: 'YES_NO_CANCEL' };
  const Button = { OK: 'OK', CANCEL: 'CANCEL', YES: 'YES', NO: 'NO', CLOSE: 'CLOSE' };
  const ui = {
    ButtonSet,
    Button,
    createMenu(name) {
      const menu = { name, items: [], addedToUi: false };
      state.menus.push(menu);
      const builder = {
        addItem(label, functionName) {
          menu.items.push({ label, functionName });
          return builder;
        },
        addSeparator() {
          menu.items.push({ separator: true });
          return builder;
        },
        addToUi() {
          menu.addedToUi = true;
        },
      };
      return builder;
    },
    prompt(title, message, buttons) {
      state.prompts.push({ title, message, buttons });
      const next = state.promptAnswers.shift();
      if (!next) throw new Error(`unexpected prompt: ${title}`);
      return {
        getSelectedButton: () => next.button || Button.OK,
        getResponseText: () => next.text || '',
      };
    },
    alert(title, message, buttons) {
      state.alerts.push({ title, message, buttons });
      return Button.OK;
    },
  };
  const spreadsheet = {
    getId: () => state.sheetId,
    toast(message, title, timeout) {
      guard('Spreadsheet.toast');
      state.toasts.push({ message, title, timeout });
    },
    getSheetByName(name) {
      if (!state.tabs[name]) return null;
      if (!state.sheets[name]) state.sheets[name] = makeSheet(state, name);
      return state.sheets[name];
    },
    getActiveRange: () => state.activeRange,
  };
  return {
    getUi() {
      guard('SpreadsheetApp.getUi');
      return ui;
    },
    getActive: () => spreadsheet,
    getActiveSpreadsheet: () => spreadsheet,
  };
}

function makePropertiesService(state) {
  const store = {
    getProperty: (key) => (Object.prototype.hasOwnProperty.call(state.properties, key) ? state.properties[key] : null),
    setProperty(key, value) {
      if (state.customFunction) throw new Error('Exception: a custom function cannot set properties.');
      state.properties[key] = String(value);
      return store;
    },
    getProperties: () => Object.assign({}, state.properties),
  };
  return { getScriptProperties: () => store };
}

/**
 * Installable triggers as Apps Script keeps them: per user, per script; `state.triggers` holds
 * {handler, eventType, sourceId, uid, owner}. getUserTriggers returns only the current user's
 * triggers on that spreadsheet.
 */
function makeScriptApp(state) {
  const EventType = { ON_EDIT: 'ON_EDIT', ON_CHANGE: 'ON_CHANGE', ON_OPEN: 'ON_OPEN', CLOCK: 'CLOCK' };
  const wrap = (record) => ({
    __record: record,
    getHandlerFunction: () => record.handler,
    getEventType: () => record.eventType,
    getTriggerSourceId: () => record.sourceId,
    getUniqueId: () => record.uid,
  });
  const mine = (record) => record.owner === state.user;
  return {
    EventType,
    getProjectTriggers: () => state.triggers.filter(mine).map(wrap),
    getUserTriggers: (spreadsheet) => state.triggers
      .filter((t) => mine(t) && t.sourceId === spreadsheet.getId()).map(wrap),
    deleteTrigger(trigger) {
      const index = state.triggers.indexOf(trigger.__record);
      if (index < 0) throw new Error('Exception: that trigger does not exist');
      state.triggers.splice(index, 1);
    },
    newTrigger(handler) {
      const record = { handler, owner: state.user };
      const builder = {
        forSpreadsheet(spreadsheet) {
          record.sourceId = typeof spreadsheet === 'string' ? spreadsheet : spreadsheet.getId();
          return builder;
        },
        onEdit() {
          record.eventType = EventType.ON_EDIT;
          return builder;
        },
        onChange() {
          record.eventType = EventType.ON_CHANGE;
          return builder;
        },
        create() {
          if (!record.sourceId || !record.eventType) throw new Error('incomplete trigger');
          record.uid = String(state.triggers.length + 1000);
          state.triggers.push(record);
          return wrap(record);
        },
      };
      return builder;
    },
  };
}

/** CacheService's script cache, entries expiring on the fake clock. */
function makeCacheService(state) {
  const cache = {
    get(key) {
      const entry = state.cache[key];
      if (!entry || entry.expires <= state.clock.now) return null;
      return entry.value;
    },
    put(key, value, seconds) {
      state.cache[key] = { value: String(value), expires: state.clock.now + 1000 * (seconds || 600) };
    },
    remove(key) {
      delete state.cache[key];
    },
  };
  return { getScriptCache: () => cache };
}

/**
 * Loads Code.gs with fresh stubs.
 * @param {object} [options]
 * @param {object} [options.properties] initial Script Properties
 * @param {function} [options.service] answers each UrlFetchApp request: ({code, body}) or throws
 * @param {object} [options.tabs] tab name -> 2-D values, for getSheetByName (writes land in them)
 * @param {Array} [options.triggers] installable triggers already there: {handler, eventType, sourceId, owner}
 * @param {string} [options.user] the current user's email (whose triggers getUserTriggers sees)
 * @param {Array} [options.promptAnswers] queued prompt answers: {button: 'OK'|'CANCEL', text}
 * @param {boolean} [options.customFunction] make UI calls and property writes throw, as in a cell
 */
function loadScript(options = {}) {
  const clock = { now: START_MS, sleeps: [] };
  const state = {
    clock,
    sheetId: options.sheetId || '1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789',
    properties: Object.assign({}, options.properties || {}),
    service: options.service || (() => ({ code: 500, body: { detail: 'no service scripted' } })),
    tabs: options.tabs || {},
    promptAnswers: (options.promptAnswers || []).slice(),
    customFunction: Boolean(options.customFunction),
    requests: [],
    fetchCalls: [],
    fetchAllCalls: [],
    sheets: {},
    writes: [],
    activeRange: null,
    user: options.user || 'owner@example.com',
    triggers: (options.triggers || []).map((t) => Object.assign({ owner: 'owner@example.com' }, t)),
    cache: {},
    logs: [],
    menus: [],
    prompts: [],
    alerts: [],
    toasts: [],
  };
  const sandbox = {
    __nowMs: () => clock.now,
    SpreadsheetApp: makeSpreadsheetApp(state),
    UrlFetchApp: makeUrlFetchApp(state),
    Utilities: makeUtilities(clock),
    PropertiesService: makePropertiesService(state),
    ScriptApp: makeScriptApp(state),
    CacheService: makeCacheService(state),
    console: {
      log: (...args) => state.logs.push(args.join(' ')),
      warn: (...args) => state.logs.push(args.join(' ')),
      error: (...args) => state.logs.push(args.join(' ')),
    },
  };
  const context = vm.createContext(sandbox);
  vm.runInContext('Date.now = function () { return __nowMs(); };', context);
  for (const file of SCRIPT_FILES) {
    vm.runInContext(fs.readFileSync(path.join(ADDON_DIR, file), 'utf8'), context, { filename: file });
  }
  return { script: context, state };
}

/** Copies a value out of the vm realm so assert.deepStrictEqual compares plain data. */
const plain = (value) => (value === undefined ? undefined : JSON.parse(JSON.stringify(value)));

/** Calls fn and returns the message of the Error it throws (fails if it returns). */
function thrownMessage(fn) {
  try {
    fn();
  } catch (err) {
    return String(err && err.message);
  }
  throw new Error('expected an Error to be thrown');
}

/**
 * Checks a recorded request's authentication headers with node:crypto alone (not Code.gs):
 * X-Sheetai-Signature == hex HMAC-SHA256(secret, "<X-Sheetai-Timestamp>.<payload>"), UTF-8.
 * Returns the timestamp as a number.
 */
function assertSigned(assert, request, { secret, sheetId, nowMs }) {
  const headers = request.headers || {};
  assert.deepStrictEqual(Object.keys(headers).sort(),
    ['X-Sheetai-Sheet', 'X-Sheetai-Signature', 'X-Sheetai-Timestamp']);
  assert.strictEqual(headers['X-Sheetai-Sheet'], sheetId);
  assert.match(headers['X-Sheetai-Timestamp'], /^[0-9]+$/);
  const timestamp = Number(headers['X-Sheetai-Timestamp']);
  if (nowMs !== undefined) assert.strictEqual(timestamp, Math.floor(nowMs / 1000));
  const body = request.payload === undefined ? '' : request.payload;
  const expected = crypto.createHmac('sha256', Buffer.from(secret, 'utf8'))
    .update(Buffer.from(`${timestamp}.${body}`, 'utf8')).digest('hex');
  assert.strictEqual(headers['X-Sheetai-Signature'], expected);
  return timestamp;
}

module.exports = { loadScript, plain, thrownMessage, assertSigned, START_MS };
