/**
 * sheetai for Google Sheets: a `sheetai` menu (Sync now, Sync step…, Show last run, Settings…,
 * Sync automatically: turn on / off) and the =AICLASSIFY custom function, all answered by a
 * `sheetai serve` service. The edit triggers live in AutoSync.gs (same global scope).
 *
 * Every request is signed: headers X-Sheetai-Sheet (spreadsheet id), X-Sheetai-Timestamp (unix
 * seconds) and X-Sheetai-Signature = lowercase hex HMAC-SHA256(secret, "<timestamp>.<raw body>");
 * a GET signs an empty body ("<timestamp>."). The service URL and the per-sheet secret live in
 * Script Properties (SHEETAI_URL, SHEETAI_SECRET), which custom functions may read.
 *
 * Functions ending in "_" are private to Apps Script (not in the Run menu, not callable from
 * cells); the pure ones are also what test/*.test.js and test/sign_fixture.js call.
 */

var SHEETAI_MENU = 'sheetai';
var SHEETAI_LOG_TAB = 'sheetai log';
var SHEETAI_URL_PROPERTY = 'SHEETAI_URL';
var SHEETAI_SECRET_PROPERTY = 'SHEETAI_SECRET';
var SHEETAI_MIN_SECRET_LENGTH = 16;
/** Polling stops after this long so the whole run stays well under Apps Script's 6 minutes. */
var SHEETAI_POLL_BUDGET_MS = 4 * 60 * 1000;
/** First wait between polls; grows by half each time up to the maximum. Always >= 1.1 s so two
 *  polls never share a timestamp (the service refuses a repeated signature as a replay). */
var SHEETAI_POLL_FIRST_MS = 1500;
var SHEETAI_POLL_MAX_MS = 10000;
/** Texts per /v1/classify request; bigger ranges go out as several requests in one fetchAll. */
var SHEETAI_CLASSIFY_BATCH = 500;
/** Distinct texts one formula may send: more would not come back within Sheets' 30 s. */
var SHEETAI_CLASSIFY_MAX_TEXTS = 2000;

// ---------------------------------------------------------------------------------------------
// Menu
// ---------------------------------------------------------------------------------------------

/** Simple trigger: adds the sheetai menu when the spreadsheet opens. */
function onOpen() {
  SpreadsheetApp.getUi()
    .createMenu(SHEETAI_MENU)
    .addItem('Sync now', 'sheetaiSyncNow')
    .addItem('Sync step\u2026', 'sheetaiSyncStep')
    .addSeparator()
    .addItem('Show last run', 'sheetaiShowLastRun')
    .addItem('Settings\u2026', 'sheetaiSettings')
    .addSeparator()
    .addItem('Sync automatically: turn on', 'sheetaiAutoSyncOn')
    .addItem('Sync automatically: turn off', 'sheetaiAutoSyncOff')
    .addToUi();
}

/** Menu: sync every step of this spreadsheet. */
function sheetaiSyncNow() {
  withAlerts_(function () {
    runSync_(null);
  });
}

/** Menu: ask for one step name, then sync only that step. */
function sheetaiSyncStep() {
  withAlerts_(function () {
    var ui = SpreadsheetApp.getUi();
    var answer = ui.prompt(
      'sheetai \u25B8 Sync step',
      'Step name (as written in the sheetai tab):',
      ui.ButtonSet.OK_CANCEL
    );
    if (answer.getSelectedButton() !== ui.Button.OK) return;
    var step = String(answer.getResponseText() || '').trim();
    if (!step) {
      ui.alert('sheetai', 'No step name given: nothing was synced.', ui.ButtonSet.OK);
      return;
    }
    runSync_(step);
  });
}

/** Menu: show the last row of the "sheetai log" tab. */
function sheetaiShowLastRun() {
  withAlerts_(function () {
    var ui = SpreadsheetApp.getUi();
    var sheet = SpreadsheetApp.getActiveSpreadsheet().getSheetByName(SHEETAI_LOG_TAB);
    if (!sheet) {
      ui.alert('sheetai \u25B8 Last run', 'There is no "' + SHEETAI_LOG_TAB +
        '" tab yet: run sheetai \u25B8 Sync now first.', ui.ButtonSet.OK);
      return;
    }
    var lastRow = sheet.getLastRow();
    var lastColumn = sheet.getLastColumn();
    if (lastRow < 2 || lastColumn < 1) {
      ui.alert('sheetai \u25B8 Last run', 'No run has been logged yet.', ui.ButtonSet.OK);
      return;
    }
    var header = sheet.getRange(1, 1, 1, lastColumn).getValues()[0];
    var row = sheet.getRange(lastRow, 1, 1, lastColumn).getValues()[0];
    ui.alert('sheetai \u25B8 Last run', formatLogRow_(header, row), ui.ButtonSet.OK);
  });
}

/** Menu: ask for the service URL and the secret; a blank answer keeps the current value. */
function sheetaiSettings() {
  withAlerts_(function () {
    var ui = SpreadsheetApp.getUi();
    var properties = PropertiesService.getScriptProperties();
    var current = readSettings_();

    var urlAnswer = ui.prompt(
      'sheetai \u25B8 Settings (1/2)',
      'Service URL, e.g. https://sheetai.example.com\nCurrent: ' +
        (current.url || '(not set)') + '\nLeave blank to keep it.',
      ui.ButtonSet.OK_CANCEL
    );
    if (urlAnswer.getSelectedButton() !== ui.Button.OK) return;
    var url = String(urlAnswer.getResponseText() || '').trim();
    if (url) {
      url = normaliseUrl_(url);
    }

    var secretAnswer = ui.prompt(
      'sheetai \u25B8 Settings (2/2)',
      'Secret registered for this sheet on the service.\nCurrent: ' +
        maskSecret_(current.secret) + '\nLeave blank to keep it.',
      ui.ButtonSet.OK_CANCEL
    );
    if (secretAnswer.getSelectedButton() !== ui.Button.OK) return;
    var secret = String(secretAnswer.getResponseText() || '').trim();
    if (secret && secret.length < SHEETAI_MIN_SECRET_LENGTH) {
      throw new Error('The secret must be at least ' + SHEETAI_MIN_SECRET_LENGTH +
        ' characters long: nothing was saved.');
    }

    if (url) properties.setProperty(SHEETAI_URL_PROPERTY, url);
    if (secret) properties.setProperty(SHEETAI_SECRET_PROPERTY, secret);
    var saved = readSettings_();
    ui.alert('sheetai \u25B8 Settings', 'Service URL: ' + (saved.url || '(not set)') +
      '\nSecret: ' + maskSecret_(saved.secret), ui.ButtonSet.OK);
  });
}

// ---------------------------------------------------------------------------------------------
// Sync
// ---------------------------------------------------------------------------------------------

/** Starts a sync of `step` (null for all), polls it, and alerts the outcome. */
function runSync_(step) {
  var ui = SpreadsheetApp.getUi();
  var spreadsheet = SpreadsheetApp.getActive();
  var settings = requireSettings_();
  var sheetId = SpreadsheetApp.getActiveSpreadsheet().getId();

  var started = callService_(settings, sheetId, 'post', '/v1/sync', syncBody_(sheetId, step));
  var jobId = started.job_id;
  if (!jobId) throw new Error('The service did not return a job id for the sync.');
  spreadsheet.toast(step ? 'Syncing step "' + step + '"\u2026' : 'Syncing\u2026', SHEETAI_MENU, 5);

  var deadline = Date.now() + SHEETAI_POLL_BUDGET_MS;
  var wait = SHEETAI_POLL_FIRST_MS;
  var lastProgress = '';
  var job = started;
  while (true) {
    if (Date.now() + wait > deadline) {
      ui.alert('sheetai', stillRunningMessage_(jobId, job), ui.ButtonSet.OK);
      return job;
    }
    Utilities.sleep(wait);
    wait = Math.min(Math.round(wait * 1.5), SHEETAI_POLL_MAX_MS);
    job = callService_(settings, sheetId, 'get', '/v1/jobs/' + encodeURIComponent(jobId), null);
    if (job.status === 'done') {
      ui.alert('sheetai \u25B8 Sync finished', formatSummary_(job.summary), ui.ButtonSet.OK);
      return job;
    }
    if (job.status === 'failed') {
      ui.alert('sheetai \u25B8 Sync failed', 'The sync failed on the service: ' +
        (job.error || 'no reason given') + partialSummary_(job.summary), ui.ButtonSet.OK);
      return job;
    }
    var progress = formatProgress_(job.progress);
    if (progress && progress !== lastProgress) {
      spreadsheet.toast(progress, SHEETAI_MENU, 10);
      lastProgress = progress;
    }
  }
}

/** The exact JSON body of POST /v1/sync. */
function syncBody_(sheetId, step) {
  return { spreadsheet_id: sheetId, step: step || null, force: false };
}

function stillRunningMessage_(jobId, job) {
  var progress = formatProgress_(job && job.progress);
  return 'The sync is still running on the service (job ' + jobId +
    (progress ? '; ' + progress : '') + ').\nIt continues in the background: results appear ' +
    'in the sheet as they arrive. Use sheetai \u25B8 Show last run later for the totals.';
}

/** "step 'Sentiment': 40/120 rows" from a job's progress object. */
function formatProgress_(progress) {
  if (!progress) return '';
  var rows = (Number(progress.done) || 0) + '/' + (Number(progress.total) || 0) + ' rows';
  return progress.step ? 'step "' + progress.step + '": ' + rows : rows;
}

/** Readable multi-line text for a finished job's summary. */
function formatSummary_(summary) {
  if (!summary) return 'The sync finished.';
  var lines = [summaryLine_(summary)];
  var steps = summary.steps || [];
  if (steps.length > 1) {
    for (var i = 0; i < steps.length; i++) {
      lines.push('\u2022 ' + steps[i].step + ': ' + summaryLine_(steps[i]));
    }
  }
  return lines.join('\n');
}

function summaryLine_(s) {
  var n = function (key) { return Number(s[key]) || 0; };
  var parts = [
    n('processed') + ' of ' + n('planned') + ' planned rows processed',
    n('skipped_unchanged') + ' unchanged',
    n('kept_human_edits') + ' human edits kept',
    n('failed') + ' failed',
    n('flagged') + ' flagged',
    thousands_(n('tokens')) + ' tokens',
    formatCost_(n('cost_usd')),
    n('seconds').toFixed(1) + ' s'
  ];
  return parts.join(', ');
}

function partialSummary_(summary) {
  return summary ? '\n\nBefore it failed: ' + summaryLine_(summary) : '';
}

/** thousands_(12345) === "12,345" */
function thousands_(n) {
  return String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** formatCost_(0.01234) === "$0.0123"; formatCost_(12.5) === "$12.50" */
function formatCost_(usd) {
  return '$' + (usd < 1 ? usd.toFixed(4) : usd.toFixed(2));
}

/** "Header: value" lines for one log row; blank cells left out, dates as ISO. */
function formatLogRow_(header, row) {
  var lines = [];
  for (var i = 0; i < row.length; i++) {
    var value = row[i];
    if (value === '' || value === null || value === undefined) continue;
    if (Object.prototype.toString.call(value) === '[object Date]') value = value.toISOString();
    lines.push((header[i] || 'column ' + (i + 1)) + ': ' + value);
  }
  return lines.length ? lines.join('\n') : 'The last log row is empty.';
}

// ---------------------------------------------------------------------------------------------
// =AICLASSIFY
// ---------------------------------------------------------------------------------------------

/**
 * Classifies text into one of the given labels with the sheetai service.
 *
 * @param {string|Array<Array<string>>} text The text, or a range of texts, to classify.
 * @param {string|Array<Array<string>>} labels The labels: "positive, negative, neutral" or a range.
 * @param {string} instructions Optional extra instructions for the model.
 * @param {string} model Optional model name; the service's default when left out.
 * @return The label for the text, or a range of labels the shape of the text range.
 * @customfunction
 */
function AICLASSIFY(text, labels, instructions, model) {
  if (text === undefined) throw new Error('AICLASSIFY needs a text (or a range of texts).');
  var labelList = parseLabels_(labels);
  var grid = Array.isArray(text) ? text : [[text]];
  var plan = planClassify_(grid);
  if (plan.texts.length > SHEETAI_CLASSIFY_MAX_TEXTS) {
    throw new Error('AICLASSIFY: ' + thousands_(plan.texts.length) + ' distinct texts is more ' +
      'than one formula can classify within Sheets\' 30-second limit (' +
      thousands_(SHEETAI_CLASSIFY_MAX_TEXTS) + '). Split the range, or use sheetai \u25B8 Sync now.');
  }
  var options = { labels: labelList };
  var extra = optionalScalar_(instructions, 'instructions');
  if (extra) options.instructions = extra;
  var modelName = optionalScalar_(model, 'model');
  if (modelName) options.model = modelName;

  var results = plan.texts.length ? classifyTexts_(plan.texts, options) : [];
  var labelsOut = fillGrid_(plan, results);
  if (Array.isArray(text)) return labelsOut;
  var only = plan.texts.length ? results[0] : null;
  if (only && only.error) throw new Error('AICLASSIFY: ' + only.error);
  return labelsOut[0][0];
}

/**
 * The labels sent to the service, from a text or a range: distinct, each "Label" or
 * "Label: description". Fewer than two is an error.
 */
function parseLabels_(labels) {
  var out = distinctLabels_(labelList_(labels)).map(function (label) {
    return label.description ? label.name + ': ' + label.description : label.name;
  });
  if (out.length < 2) {
    throw new Error('AICLASSIFY needs at least two labels, e.g. "positive, negative" or a range ' +
      'of label cells.');
  }
  return out;
}

// Label parsing: the rules of sheetai/config/labels.py, kept in step with it (and with the Excel
// add-in's copy) by the shared table tests/data/label_cases.json.
var LABEL_NAME_EDGES_ = /^[ \-•*\t]+|[ \-•*\t]+$/g;

/** Every label of a text or a range as {name, description}, in order, repeats included. */
function labelList_(labels) {
  var cells = [];
  var collect = function (value) {
    if (Array.isArray(value)) value.forEach(collect);
    else cells.push(value);
  };
  collect(labels);
  var out = [];
  cells.forEach(function (cell) {
    labelParts_(cellText_(cell).trim()).forEach(function (part) { out.push(label_(part)); });
  });
  return out;
}

/** A cell of several lines holds one label a line (descriptions keep commas); else split at commas. */
function labelParts_(cell) {
  var notBlank = function (part) { return part.trim() !== ''; };
  var lines = cell.split(/\r?\n/).filter(notBlank);
  return lines.length > 1 ? lines : cell.split(',').filter(notBlank);
}

/** "Label" or "Label: description"; a colon before a digit is part of the name ("12:00-14:00"). */
function label_(part) {
  var match = /^([\s\S]*?):(?!\d)([\s\S]*)$/.exec(part);
  var name = match ? match[1] : part;
  return { name: name.replace(LABEL_NAME_EDGES_, ''), description: match ? match[2].trim() : '' };
}

/** The labels without repeats: the first of each name, ignoring case and spaces. */
function distinctLabels_(labels) {
  var seen = {};
  return labels.filter(function (label) {
    var key = label.name.replace(/\s+/g, ' ').trim().toLowerCase();
    if (Object.prototype.hasOwnProperty.call(seen, key)) return false;
    seen[key] = true;
    return true;
  });
}

/**
 * The distinct non-blank texts of a 2-D grid, in first-seen order, and for each cell the index
 * of its text (-1 for a blank cell).
 */
function planClassify_(grid) {
  var texts = [];
  var seen = {};
  var index = [];
  for (var r = 0; r < grid.length; r++) {
    var row = Array.isArray(grid[r]) ? grid[r] : [grid[r]];
    var rowIndex = [];
    for (var c = 0; c < row.length; c++) {
      var value = cellText_(row[c]);
      if (!value.trim()) {
        rowIndex.push(-1);
        continue;
      }
      var key = '\u0000' + value;
      if (!Object.prototype.hasOwnProperty.call(seen, key)) {
        seen[key] = texts.length;
        texts.push(value);
      }
      rowIndex.push(seen[key]);
    }
    index.push(rowIndex);
  }
  return { texts: texts, index: index };
}

/** Labels laid out like the input grid; blank cells stay blank, per-text errors read "ERROR: …". */
function fillGrid_(plan, results) {
  return plan.index.map(function (rowIndex) {
    return rowIndex.map(function (i) {
      if (i < 0) return '';
      var result = results[i];
      if (result.error) return 'ERROR: ' + result.error;
      return result.label;
    });
  });
}

/** Sends the texts in batches of SHEETAI_CLASSIFY_BATCH (one fetchAll when there are several). */
function classifyTexts_(texts, options) {
  var settings = requireSettings_();
  var sheetId = SpreadsheetApp.getActiveSpreadsheet().getId();
  var bodies = classifyBodies_(texts, options, SHEETAI_CLASSIFY_BATCH);
  var answers;
  if (bodies.length === 1) {
    answers = [callService_(settings, sheetId, 'post', '/v1/classify', bodies[0])];
  } else {
    answers = callServiceAll_(settings, sheetId, 'post', '/v1/classify', bodies);
  }
  var results = [];
  for (var b = 0; b < answers.length; b++) {
    var batch = answers[b].results;
    var expected = bodies[b].items.length;
    if (!Array.isArray(batch) || batch.length !== expected) {
      throw new Error('The service returned ' + (Array.isArray(batch) ? batch.length : 'no') +
        ' results for ' + expected + ' texts.');
    }
    results = results.concat(batch);
  }
  return results;
}

/** The /v1/classify bodies for `texts`, at most `batchSize` items each. */
function classifyBodies_(texts, options, batchSize) {
  var bodies = [];
  for (var start = 0; start < texts.length; start += batchSize) {
    bodies.push({
      items: texts.slice(start, start + batchSize).map(function (t) {
        var item = { text: t, labels: options.labels };
        if (options.instructions) item.instructions = options.instructions;
        if (options.model) item.model = options.model;
        return item;
      })
    });
  }
  return bodies;
}

/** A cell value as the text the model sees: dates as ISO, everything else via String(). */
function cellText_(value) {
  if (value === null || value === undefined) return '';
  if (Object.prototype.toString.call(value) === '[object Date]') return value.toISOString();
  return String(value);
}

function optionalScalar_(value, name) {
  if (Array.isArray(value)) {
    var flat = [].concat.apply([], value);
    if (flat.length !== 1) throw new Error('AICLASSIFY: ' + name + ' must be one cell or a text.');
    value = flat[0];
  }
  return cellText_(value).trim();
}

// ---------------------------------------------------------------------------------------------
// Talking to the service: the only code that calls UrlFetchApp
// ---------------------------------------------------------------------------------------------

/** {url, secret} from Script Properties (empty strings when unset). */
function readSettings_() {
  var properties = PropertiesService.getScriptProperties();
  return {
    url: properties.getProperty(SHEETAI_URL_PROPERTY) || '',
    secret: properties.getProperty(SHEETAI_SECRET_PROPERTY) || ''
  };
}

function requireSettings_() {
  var settings = readSettings_();
  if (!settings.url || !settings.secret) {
    throw new Error('sheetai is not set up yet: open sheetai \u25B8 Settings\u2026 and enter the ' +
      'service URL and the secret registered for this sheet.');
  }
  return settings;
}

/**
 * Sends one signed request and returns the parsed JSON answer, or throws a readable Error.
 * A 401 is retried once in the next second: the service refuses a signature it has already
 * seen, and two identical requests in the same second (two cells with the same formula, two
 * people pressing Sync) sign identically.
 */
function callService_(settings, sheetId, method, path, bodyObject) {
  var answer = null;
  for (var attempt = 0; attempt < 2; attempt++) {
    if (attempt > 0) Utilities.sleep(1100);
    var request = buildRequest_(settings, sheetId, method, path, bodyObject, nowSeconds_());
    answer = fetchOne_(request);
    if (answer.getResponseCode() !== 401) break;
  }
  return parseAnswer_(answer, settings.url);
}

/** Sends several signed requests in parallel (UrlFetchApp.fetchAll); same errors as above. */
function callServiceAll_(settings, sheetId, method, path, bodyObjects) {
  var timestamp = nowSeconds_();
  var requests = bodyObjects.map(function (body) {
    return buildRequest_(settings, sheetId, method, path, body, timestamp);
  });
  var answers;
  try {
    answers = UrlFetchApp.fetchAll(requests);
  } catch (err) {
    throw unreachableError_(settings.url, err);
  }
  return answers.map(function (answer) { return parseAnswer_(answer, settings.url); });
}

function fetchOne_(request) {
  var params = {};
  for (var key in request) {
    if (key !== 'url') params[key] = request[key];
  }
  try {
    return UrlFetchApp.fetch(request.url, params);
  } catch (err) {
    throw unreachableError_(request.url, err);
  }
}

function unreachableError_(url, err) {
  return new Error('Could not reach the sheetai service at ' + url + ' (' +
    (err && err.message ? err.message : err) + '). Check the URL in sheetai \u25B8 Settings\u2026 ' +
    'and that the service is reachable from Google over HTTPS (localhost is not).');
}

/** The parsed JSON of a 2xx answer; a readable Error for anything else. */
function parseAnswer_(response, url) {
  var code = response.getResponseCode();
  var text = response.getContentText();
  if (code >= 200 && code < 300) {
    try {
      return JSON.parse(text);
    } catch (err) {
      throw new Error('The sheetai service at ' + url + ' answered something that is not JSON: ' +
        truncate_(text, 200));
    }
  }
  throw new Error(httpErrorMessage_(code, serverMessage_(text), url));
}

/** The user-facing sentence for an HTTP error status. */
function httpErrorMessage_(code, detail, url) {
  var why = detail ? ' The service said: ' + detail : '';
  if (code === 401) {
    return 'The sheetai service refused the signature (401). Check that the secret in ' +
      'sheetai \u25B8 Settings\u2026 is the one registered for this sheet on the service, and that ' +
      'the service\'s clock is right (requests more than 5 minutes off are refused).' + why;
  }
  if (code === 403) return 'The sheetai service refused this sheet (403).' + why;
  if (code === 404) return 'The sheetai service has no such resource (404): is ' + url +
    ' the right URL, and is the service up to date?' + why;
  if (code >= 300 && code < 400) {
    return 'The sheetai service answered with a redirect (' + code + '): put the final https:// ' +
      'URL in sheetai \u25B8 Settings\u2026.' + why;
  }
  if (code === 429) return 'The sheetai service is busy (429): try again in a minute.' + why;
  if (code >= 400 && code < 500) return 'The sheetai service refused the request (' + code + ').' + why;
  return 'The sheetai service failed (' + code + '). Try again; if it keeps failing, check the ' +
    'service\'s log.' + why;
}

/** The message inside an error body: FastAPI's "detail" (string or list), "error" or "message". */
function serverMessage_(text) {
  var data;
  try {
    data = JSON.parse(text);
  } catch (err) {
    return truncate_(String(text || '').trim(), 300);
  }
  if (data && typeof data === 'object') {
    var detail = data.detail !== undefined ? data.detail : (data.error || data.message);
    if (Array.isArray(detail)) {
      return detail.map(function (d) {
        if (d && typeof d === 'object') {
          var where = Array.isArray(d.loc) ? d.loc.join('.') + ': ' : '';
          return where + (d.msg || JSON.stringify(d));
        }
        return String(d);
      }).join('; ');
    }
    if (detail !== undefined && detail !== null) {
      return typeof detail === 'string' ? detail : JSON.stringify(detail);
    }
  }
  return truncate_(String(text || '').trim(), 300);
}

function truncate_(text, n) {
  return text.length > n ? text.slice(0, n) + '\u2026' : text;
}

// ---------------------------------------------------------------------------------------------
// Signing and request building: pure, so Node can test them and sign fixtures with them
// ---------------------------------------------------------------------------------------------

/** Unix time in whole seconds. */
function nowSeconds_() {
  return Math.floor(Date.now() / 1000);
}

/**
 * JSON with every non-ASCII character written as a \\u escape, so the bytes sent are the same
 * whatever charset UrlFetchApp uses for a string payload, and equal to the string signed.
 */
function asciiJson_(value) {
  return JSON.stringify(value).replace(/[\u007f-\uffff]/g, function (ch) {
    return '\\u' + ('0000' + ch.charCodeAt(0).toString(16)).slice(-4);
  });
}

/** Lowercase hex of Apps Script's signed bytes (-128..127). */
function hexFromSignedBytes_(bytes) {
  var hex = '';
  for (var i = 0; i < bytes.length; i++) {
    var b = bytes[i] & 0xff;
    hex += (b < 16 ? '0' : '') + b.toString(16);
  }
  return hex;
}

/** The string that is signed: "<timestamp>.<raw body>" ("<timestamp>." for a GET). */
function signingMessage_(timestamp, body) {
  return String(timestamp) + '.' + (body || '');
}

/** Lowercase hex HMAC-SHA256(secret, "<timestamp>.<body>"), both UTF-8. */
function signRequest_(secret, timestamp, body) {
  // The two-string overload does not reliably encode non-ASCII text as UTF-8: name the charset.
  var bytes = Utilities.computeHmacSha256Signature(
    signingMessage_(timestamp, body), secret, Utilities.Charset.UTF_8);
  return hexFromSignedBytes_(bytes);
}

/** The three authentication headers for one request. */
function signedHeaders_(sheetId, secret, timestamp, body) {
  return {
    'X-Sheetai-Sheet': sheetId,
    'X-Sheetai-Timestamp': String(timestamp),
    'X-Sheetai-Signature': signRequest_(secret, timestamp, body)
  };
}

/** "https://host/base/" + "/v1/sync" -> "https://host/base/v1/sync" */
function joinUrl_(base, path) {
  return String(base).replace(/\/+$/, '') + '/' + String(path).replace(/^\/+/, '');
}

/** Trims a service URL and checks it is https://. */
function normaliseUrl_(url) {
  var clean = String(url).trim().replace(/\/+$/, '');
  if (!/^https:\/\/[^\s\/]+/i.test(clean)) {
    throw new Error('The service URL must start with https:// (Google only reaches the service ' +
      'over the internet): "' + url + '" was not saved.');
  }
  return clean;
}

/** "(not set)", or the length and last four characters, never the whole secret. */
function maskSecret_(secret) {
  if (!secret) return '(not set)';
  if (secret.length < 12) return 'set (' + secret.length + ' characters)';
  return 'set (' + secret.length + ' characters, ending \u2026' + secret.slice(-4) + ')';
}

/**
 * A UrlFetchApp request object (url plus fetch params) for one signed call. The body is
 * serialised once and that exact string is both signed and sent.
 */
function buildRequest_(settings, sheetId, method, path, bodyObject, timestamp) {
  var verb = String(method).toLowerCase();
  var body = verb === 'get' ? '' : asciiJson_(bodyObject);
  var request = {
    url: joinUrl_(settings.url, path),
    method: verb,
    headers: signedHeaders_(sheetId, settings.secret, timestamp, body),
    muteHttpExceptions: true,
    followRedirects: false
  };
  if (verb !== 'get') {
    request.contentType = 'application/json';
    request.payload = body;
  }
  return request;
}

/** Runs a menu action and turns any Error into an alert the user can read. */
function withAlerts_(action) {
  try {
    return action();
  } catch (err) {
    var ui = SpreadsheetApp.getUi();
    ui.alert('sheetai', err && err.message ? err.message : String(err), ui.ButtonSet.OK);
    return null;
  }
}
