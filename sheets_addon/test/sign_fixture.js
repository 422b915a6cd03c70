#!/usr/bin/env node
'use strict';
/**
 * Prints the authentication headers Code.gs would send for a body, computed by the script's own
 * signedHeaders_/signRequest_ (loaded in node:vm with a node:crypto Utilities stub), so the
 * Python side can check that its verifier accepts what the Apps Script signs.
 *
 *   node test/sign_fixture.js --secret S [--timestamp T] [--sheet ID] [--body-file F | < body]
 *
 * The body is the file's (or stdin's) exact bytes read as UTF-8, trailing newline included;
 * --body-file '' or an empty stdin signs an empty body, as a GET does. --timestamp defaults to
 * now (unix seconds), --sheet to "fixture-sheet". Output, one JSON line:
 *   {"timestamp": T, "signature": "<64 hex>", "headers": {"X-Sheetai-Sheet": ..., ...}}
 */
const fs = require('node:fs');
const { loadScript, plain } = require('./harness');

const USAGE = 'usage: sign_fixture.js --secret S [--timestamp T] [--sheet ID] [--body-file F]';

function parseArgs(argv) {
  const args = {};
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (!['--secret', '--timestamp', '--sheet', '--body-file'].includes(flag) || i + 1 >= argv.length) {
      throw new Error(`unexpected argument ${JSON.stringify(flag)}\n${USAGE}`);
    }
    args[flag.slice(2)] = argv[++i];
  }
  if (!args.secret) throw new Error(`--secret is required\n${USAGE}`);
  return args;
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  let timestamp = Math.floor(Date.now() / 1000);
  if (args.timestamp !== undefined) {
    if (!/^[0-9]+$/.test(args.timestamp)) throw new Error('--timestamp must be unix seconds (an integer)');
    timestamp = Number(args.timestamp);
  }
  const bodyFile = args['body-file'];
  const body = bodyFile === undefined || bodyFile === '-'
    ? fs.readFileSync(0, 'utf8')
    : bodyFile === '' ? '' : fs.readFileSync(bodyFile, 'utf8');
  const { script } = loadScript();
  const headers = plain(script.signedHeaders_(args.sheet || 'fixture-sheet', args.secret, timestamp, body));
  process.stdout.write(JSON.stringify({ timestamp, signature: headers['X-Sheetai-Signature'], headers }) + '\n');
}

try {
  main();
} catch (err) {
  process.stderr.write(`sign_fixture: ${err.message}\n`);
  process.exit(2);
}
