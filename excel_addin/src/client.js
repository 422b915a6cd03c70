/*
 * The one door to the sheetai service: connection settings (OfficeRuntime.storage)
 * and a JSON POST with a timeout that turns every failure into a ServiceError.
 *
 * Loaded as a classic <script> in the add-in (exposes `SheetAIClient`) and with
 * require() in Node tests.
 */
/* global module, self */
(function (root, factory) {
  const api = factory();
  if (typeof module === "object" && module.exports) {
    module.exports = api;
  } else {
    root.SheetAIClient = api;
  }
})(typeof self !== "undefined" ? self : this, function () {
  "use strict";

  const DEFAULT_SERVICE_URL = "http://127.0.0.1:8765";
  const STORAGE_KEYS = Object.freeze({
    serviceUrl: "sheetai.serviceUrl",
    token: "sheetai.token",
  });

  /**
   * A failed call to the service. `kind` says what went wrong:
   * "unreachable" (no connection), "timeout", "unauthorized" (401/403),
   * "rejected" (other 4xx), "server" (5xx), "bad_response" (not the contract).
   */
  class ServiceError extends Error {
    constructor(kind, message, { url, status = null, cell = null } = {}) {
      super(message);
      this.name = "ServiceError";
      this.kind = kind;
      this.url = url;
      this.status = status;
      this.cell = cell;
    }
  }

  function normalizeServiceUrl(url) {
    const trimmed = String(url || "").trim().replace(/\/+$/, "");
    return trimmed || DEFAULT_SERVICE_URL;
  }

  /** Reads the service URL and token saved by the task pane. */
  async function loadConnection(storage) {
    if (!storage) {
      return { serviceUrl: DEFAULT_SERVICE_URL, token: "" };
    }
    const [serviceUrl, token] = await Promise.all([
      storage.getItem(STORAGE_KEYS.serviceUrl),
      storage.getItem(STORAGE_KEYS.token),
    ]);
    return { serviceUrl: normalizeServiceUrl(serviceUrl), token: token ? String(token).trim() : "" };
  }

  async function saveConnection(storage, { serviceUrl, token }) {
    await storage.setItem(STORAGE_KEYS.serviceUrl, normalizeServiceUrl(serviceUrl));
    await storage.setItem(STORAGE_KEYS.token, String(token || "").trim());
  }

  /** The readable message in an error body: FastAPI `detail` (string, object or list) or `error.message`. */
  function describeErrorBody(body) {
    if (body === null || body === undefined) {
      return { message: "", cell: null };
    }
    if (typeof body === "string") {
      return { message: body, cell: null };
    }
    const detail = body.detail;
    if (typeof detail === "string") {
      return { message: detail, cell: null };
    }
    if (Array.isArray(detail)) {
      const parts = detail.map((d) => {
        if (d && typeof d === "object") {
          const loc = Array.isArray(d.loc) ? d.loc.join(".") : "";
          return loc ? `${loc}: ${d.msg}` : String(d.msg);
        }
        return String(d);
      });
      return { message: parts.join("; "), cell: null };
    }
    if (detail && typeof detail === "object") {
      return { message: String(detail.message || JSON.stringify(detail)), cell: detail.cell || null };
    }
    if (body.error && typeof body.error === "object" && body.error.message) {
      return { message: String(body.error.message), cell: null };
    }
    if (typeof body.error === "string") {
      return { message: body.error, cell: null };
    }
    return { message: JSON.stringify(body).slice(0, 200), cell: null };
  }

  function parseJson(text) {
    try {
      return text ? JSON.parse(text) : null;
    } catch (_err) {
      return undefined;
    }
  }

  /**
   * POSTs `body` as JSON to `serviceUrl + path` and returns the parsed JSON answer.
   *
   * Never hangs: the request and the body read are aborted after `timeoutMs`.
   * An external `signal` (e.g. a Cancel button) aborts it too.
   */
  async function postJson({ serviceUrl, token, path, body, timeoutMs, signal, fetchImpl }) {
    const doFetch = fetchImpl || globalThis.fetch;
    const url = normalizeServiceUrl(serviceUrl) + path;
    const base = normalizeServiceUrl(serviceUrl);
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs);
    const onOuterAbort = () => controller.abort();
    if (signal) {
      if (signal.aborted) controller.abort();
      else signal.addEventListener("abort", onOuterAbort, { once: true });
    }
    const headers = { "Content-Type": "application/json", Accept: "application/json" };
    if (token) headers.Authorization = `Bearer ${token}`;
    let status;
    let text;
    try {
      const response = await doFetch(url, {
        method: "POST",
        headers,
        body: JSON.stringify(body),
        signal: controller.signal,
      });
      status = response.status;
      text = await response.text();
    } catch (err) {
      if (timedOut) {
        throw new ServiceError("timeout", `no answer from ${base} within ${formatSeconds(timeoutMs)}`, { url: base });
      }
      if (signal && signal.aborted) {
        throw new ServiceError("cancelled", "cancelled before the service answered; nothing was written", { url: base });
      }
      throw new ServiceError("unreachable", `service unreachable at ${base}`, { url: base });
    } finally {
      clearTimeout(timer);
      if (signal) signal.removeEventListener("abort", onOuterAbort);
    }

    const json = parseJson(text);
    if (status >= 200 && status < 300) {
      if (json === undefined || json === null || typeof json !== "object") {
        throw new ServiceError("bad_response", `${base}${path} did not answer with JSON`, { url: base, status });
      }
      return json;
    }
    const { message, cell } = describeErrorBody(json === undefined ? text : json);
    const suffix = message ? `: ${message}` : "";
    if (status === 401 || status === 403) {
      throw new ServiceError("unauthorized", `token rejected by ${base} (HTTP ${status})${suffix}`, {
        url: base,
        status,
      });
    }
    if (status >= 400 && status < 500) {
      throw new ServiceError("rejected", `${base}${path} refused the request (HTTP ${status})${suffix}`, {
        url: base,
        status,
        cell,
      });
    }
    throw new ServiceError("server", `${base}${path} failed (HTTP ${status})${suffix}`, { url: base, status, cell });
  }

  function formatSeconds(ms) {
    const s = ms / 1000;
    return `${Number.isInteger(s) ? s : s.toFixed(1)} s`;
  }

  return {
    DEFAULT_SERVICE_URL,
    STORAGE_KEYS,
    ServiceError,
    describeErrorBody,
    loadConnection,
    normalizeServiceUrl,
    postJson,
    saveConnection,
  };
});
