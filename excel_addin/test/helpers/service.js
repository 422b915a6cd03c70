"use strict";
/*
 * A local stand-in for `sheetai serve` (node:http on 127.0.0.1, port 0) that
 * implements the HTTP contract the add-in codes against. Tests override
 * `service.classify` / `service.sync` to script answers; every request is recorded.
 */
const http = require("node:http");

function defaultClassify(body) {
  return {
    status: 200,
    json: {
      results: body.items.map((item) => {
        if (item.text.includes("FAIL")) return { error: `model refused: ${item.text}` };
        const lower = item.text.toLowerCase();
        const label = item.labels.find((l) => lower.includes(l.toLowerCase())) || item.labels[0];
        return { label, confidence: 0.9, reasoning: `mentions ${label}`, cached: false };
      }),
    },
  };
}

async function startService({ token = "secret-token" } = {}) {
  const service = {
    token,
    requests: [],
    classify: defaultClassify,
    sync: () => ({ status: 200, json: { summary: {}, new_sheets: [], writes: [] } }),
    url: null,
    close: null,
  };
  const server = http.createServer((req, res) => {
    let raw = "";
    req.setEncoding("utf8");
    req.on("data", (c) => (raw += c));
    req.on("end", async () => {
      let body = null;
      try {
        body = raw ? JSON.parse(raw) : null;
      } catch (_e) {
        body = raw;
      }
      const record = { method: req.method, path: req.url, headers: req.headers, body };
      service.requests.push(record);
      const send = (status, json) => {
        res.writeHead(status, { "Content-Type": "application/json" });
        res.end(JSON.stringify(json));
      };
      if (req.method !== "POST") return send(405, { detail: "Method Not Allowed" });
      if (req.headers["content-type"] !== "application/json") return send(415, { detail: "want application/json" });
      if (req.headers.authorization !== `Bearer ${service.token}`) return send(401, { detail: "invalid token" });
      const handler = req.url === "/v1/classify" ? service.classify : req.url === "/v1/excel/sync" ? service.sync : null;
      if (!handler) return send(404, { detail: "Not Found" });
      const answer = await handler(body, record);
      if (answer === "hang") return; // never answer: the client's timeout must fire
      send(answer.status, answer.json);
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  service.url = `http://127.0.0.1:${server.address().port}`;
  service.close = () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(resolve);
    });
  return service;
}

/** A URL on 127.0.0.1 where nothing listens. */
async function deadUrl() {
  const server = http.createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  await new Promise((resolve) => server.close(resolve));
  return url;
}

module.exports = { startService, deadUrl, defaultClassify };
