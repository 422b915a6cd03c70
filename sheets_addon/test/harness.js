'use strict';
/**
 * Loads Code.gs into a node:vm context with stubs of the Apps Script services it uses.
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

const CODE_PATH = path.join(__dirname, '..', 'Code.gs');
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

function makeSheet(values) {
  const width = values.reduce((w, row) => Math.max(w, row.length), 0);
  return {
    getLastRow: () => values.length,
    getLastColumn: () => width,
    getRange(row, column, numRows, numColumns) {
      return {
        getValues: () => values.slice(row - 1, row - 1 + (numRows || 1)).map((r) => {
          const cells = r.slice(column - 1, column - 1 + (numColumns || 1));
          while (cells.length < (numColumns || 1)) cells.push('');
          return cells;
        }),
      };
    },
  };
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
    getSheetByName: (name) => (state.tabs[name] ? makeSheet(state.tabs[name]) : null),
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
 * Loads Code.gs with fresh stubs.
 * @param {object} [options]
 * @param {object} [options.properties] initial Script Properties
 * @param {function} [options.service] answers each UrlFetchApp request: ({code, body}) or throws
 * @param {object} [options.tabs] tab name -> 2-D values, for getSheetByName
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
  };
  const context = vm.createContext(sandbox);
  vm.runInContext('Date.now = function () { return __nowMs(); };', context);
  vm.runInContext(fs.readFileSync(CODE_PATH, 'utf8'), context, { filename: 'Code.gs' });
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
