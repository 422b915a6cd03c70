"use strict";
/*
 * Starts the REAL `sheetai serve` (python -m sheetai serve) on a free port, with its own
 * SHEETAI_HOME in a temp folder and a bearer token, and stops it again.
 *
 * The interpreter is $SHEETAI_PYTHON, else `python3` (in CI a venv with sheetai installed).
 * Every line the service logs (JSON, one per line) is kept in `service.log`.
 */
const { spawn } = require("node:child_process");
const fs = require("node:fs");
const net = require("node:net");
const os = require("node:os");
const path = require("node:path");

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function waitUntilUp(service, deadline) {
  while (Date.now() < deadline) {
    if (service.exited) {
      throw new Error(`sheetai serve exited with ${service.exited.code}:\n${service.stderr.slice(-2000)}`);
    }
    try {
      const response = await fetch(`${service.url}/healthz`);
      if (response.ok) return;
    } catch (_err) {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
  throw new Error(`sheetai serve did not answer /healthz at ${service.url}:\n${service.stderr.slice(-2000)}`);
}

/** Resolves with {url, token, home, log, stderr, stop()} once /healthz answers. */
async function startRealService({ token = "integration-token", timeoutMs = 60000 } = {}) {
  const python = process.env.SHEETAI_PYTHON || "python3";
  const port = await freePort();
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "sheetai-addin-"));
  const env = { ...process.env, SHEETAI_HOME: home, SHEETAI_SERVICE_TOKEN: token, PYTHONUNBUFFERED: "1" };
  delete env.OPENAI_API_KEY;
  delete env.OPENAI_BASE_URL;
  // cwd = the temp home, so a developer's .env cannot change the service under test.
  const child = spawn(python, ["-m", "sheetai", "serve", "--port", String(port)], {
    cwd: home,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const service = { url: `http://127.0.0.1:${port}`, token, home, log: [], stderr: "", exited: null, child };
  let partial = "";
  const collect = (chunk) => {
    service.stderr += chunk;
    partial += chunk;
    const lines = partial.split("\n");
    partial = lines.pop();
    for (const line of lines) {
      try {
        service.log.push(JSON.parse(line));
      } catch (_err) {
        // not a JSON log line (e.g. a warning)
      }
    }
  };
  child.stdout.setEncoding("utf8").on("data", collect);
  child.stderr.setEncoding("utf8").on("data", collect);
  child.on("error", (err) => {
    service.exited = { code: `spawn error: ${err.message} (set SHEETAI_PYTHON to a Python with sheetai installed)` };
  });
  child.on("exit", (code, signal) => {
    service.exited = { code: code === null ? signal : code };
  });
  service.stop = () =>
    new Promise((resolve) => {
      const done = () => {
        fs.rmSync(home, { recursive: true, force: true });
        resolve();
      };
      if (service.exited) return done();
      child.once("exit", done);
      child.kill("SIGTERM");
    });
  try {
    await waitUntilUp(service, Date.now() + timeoutMs);
  } catch (err) {
    await service.stop();
    throw err;
  }
  return service;
}

/** The service's own log lines for requests to `path`. */
function requestsTo(service, path) {
  return service.log.filter((entry) => entry.event === "request" && entry.path === path);
}

/** Waits (up to 5 s) until the service has logged `count` requests to `path`; returns them all. */
async function loggedRequests(service, path, count) {
  const deadline = Date.now() + 5000;
  while (requestsTo(service, path).length < count && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  // A little longer, so that an unexpected extra request would show up too.
  await new Promise((resolve) => setTimeout(resolve, 100));
  return requestsTo(service, path);
}

module.exports = { startRealService, requestsTo, loggedRequests, freePort };
