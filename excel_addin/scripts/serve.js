#!/usr/bin/env node
/*
 * Serves src/ over HTTPS on https://localhost:3000 (the URLs in manifest.xml),
 * with the certificate made by `npx office-addin-dev-certs install`.
 *
 *   node scripts/serve.js [--port 3000] [--cert FILE] [--key FILE]
 *
 * Defaults: ~/.office-addin-dev-certs/localhost.crt and localhost.key.
 * No dependencies beyond Node itself.
 */
"use strict";

const fs = require("node:fs");
const https = require("node:https");
const os = require("node:os");
const path = require("node:path");

const ROOT = path.resolve(__dirname, "..", "src");
const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".png": "image/png",
  ".svg": "image/svg+xml",
  ".ico": "image/x-icon",
};

function option(argv, name, fallback) {
  const i = argv.indexOf(name);
  return i >= 0 && argv[i + 1] ? argv[i + 1] : fallback;
}

function main(argv) {
  const certDir = path.join(os.homedir(), ".office-addin-dev-certs");
  const port = Number(option(argv, "--port", "3000"));
  const certFile = option(argv, "--cert", path.join(certDir, "localhost.crt"));
  const keyFile = option(argv, "--key", path.join(certDir, "localhost.key"));
  if (!fs.existsSync(certFile) || !fs.existsSync(keyFile)) {
    console.error(`No certificate at ${certFile} / ${keyFile}.\nRun \`npx office-addin-dev-certs install\` first, or pass --cert and --key.`);
    return 1;
  }
  const server = https.createServer({ cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile) }, (req, res) => {
    const urlPath = decodeURIComponent(new URL(req.url, "https://localhost").pathname);
    const file = path.join(ROOT, urlPath === "/" ? "taskpane.html" : urlPath);
    if (!file.startsWith(ROOT + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404, { "Content-Type": "text/plain" });
      res.end("not found");
      return;
    }
    res.writeHead(200, {
      "Content-Type": TYPES[path.extname(file)] || "application/octet-stream",
      "Cache-Control": "no-store",
    });
    fs.createReadStream(file).pipe(res);
  });
  server.listen(port, "localhost", () => {
    console.log(`Serving ${ROOT} at https://localhost:${port}/ (Ctrl+C to stop)`);
  });
  return null;
}

const code = main(process.argv.slice(2));
if (code !== null) process.exit(code);
