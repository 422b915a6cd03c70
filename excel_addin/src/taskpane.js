/*
 * Task pane UI: connection settings, the "Sync workbook" button and the "Sync automatically"
 * toggle. The logic lives in client.js, sync.js and autosync.js; this file only wires the DOM.
 */
/* global document, Office, OfficeRuntime, Excel, SheetAIClient, SheetAISync, SheetAIAutoSync */

(function () {
  "use strict";

  let cancelController = null;
  let running = null; // the sync under way (button or edit), so the two never overlap
  let autoSync = null;

  function $(id) {
    return document.getElementById(id);
  }

  function setStatus(text, isError) {
    const el = $("status");
    el.textContent = text;
    el.className = isError ? "error" : "";
  }

  function showSummary(summary) {
    const table = $("summary");
    table.textContent = "";
    const lines = SheetAISync.summaryLines(summary);
    for (const [label, text] of lines) {
      const tr = document.createElement("tr");
      const k = document.createElement("td");
      const v = document.createElement("td");
      k.textContent = label;
      v.textContent = text;
      tr.append(k, v);
      table.append(tr);
    }
    table.hidden = lines.length === 0;
  }

  function onProgress(event) {
    const bar = $("progress");
    if (event.phase === "reading") {
      setStatus("Reading the workbook…");
      bar.removeAttribute("value");
    } else if (event.phase === "waiting") {
      setStatus(`Sent ${event.sheets} sheets to ${event.serviceUrl}; the service is processing rows…`);
    } else if (event.phase === "writing") {
      $("cancel").disabled = true;
      bar.max = Math.max(event.total, 1);
      bar.value = event.done;
      setStatus(`Writing results: ${event.done} of ${event.total} ranges…`);
    }
  }

  async function loadSettings() {
    const { serviceUrl, token } = await SheetAIClient.loadConnection(OfficeRuntime.storage);
    $("serviceUrl").value = serviceUrl;
    $("token").value = token;
  }

  async function saveSettings() {
    await SheetAIClient.saveConnection(OfficeRuntime.storage, {
      serviceUrl: $("serviceUrl").value,
      token: $("token").value,
    });
    await loadSettings();
    $("saved").textContent = "Saved.";
  }

  /** The button's sync, or with trigger "edit" the one Sync automatically starts (all steps). */
  async function runSync(trigger) {
    while (running) await running.catch(() => {});
    running = syncOnce(trigger === "edit" ? "edit" : null);
    try {
      await running;
    } finally {
      running = null;
    }
  }

  async function syncOnce(trigger) {
    $("sync").disabled = true;
    $("cancel").disabled = false;
    $("progress").hidden = false;
    $("summary").hidden = true;
    cancelController = new AbortController();
    try {
      if (!trigger) await saveSettings();
      const result = await SheetAISync.syncWorkbook({
        excel: Excel,
        storage: OfficeRuntime.storage,
        step: trigger ? null : $("step").value.trim() || null,
        force: trigger ? false : $("force").checked,
        trigger,
        signal: cancelController.signal,
        onProgress,
      });
      const created = result.createdSheets.length ? ` Created sheets: ${result.createdSheets.join(", ")}.` : "";
      setStatus(`Done: ${result.writes} ranges written.${created}`);
      showSummary(result.summary);
    } catch (err) {
      const where = err && err.cell ? `${err.cell}: ` : "";
      setStatus(`${where}${err && err.message ? err.message : err}`, true);
      if (err && err.cell) {
        SheetAISync.selectCell(Excel, err.cell).catch(() => {});
      }
    } finally {
      $("sync").disabled = false;
      $("cancel").disabled = true;
      $("progress").hidden = true;
      cancelController = null;
    }
  }

  async function setAutoSync(on) {
    const settings = SheetAIAutoSync.documentSettings(Office.context.document.settings);
    await SheetAIAutoSync.saveToggle(settings, on);
    if (!autoSync) {
      autoSync = new SheetAIAutoSync.AutoSync({
        excel: Excel,
        runSync: () => runSync("edit"),
        onError: (err) => setStatus(`Sync automatically: ${err && err.message ? err.message : err}`, true),
      });
    }
    if (on) {
      const watched = await autoSync.enable();
      setStatus(watched.length ? `Syncing automatically on edits in: ${watched.join(", ")}.`
        : "Sync automatically is on, but no step's input columns were found.");
    } else {
      await autoSync.disable();
      setStatus("Sync automatically is off.");
    }
  }

  async function restoreAutoSync() {
    const settings = SheetAIAutoSync.documentSettings(Office.context.document.settings);
    const on = await SheetAIAutoSync.loadToggle(settings);
    $("autoSync").checked = on;
    if (on) await setAutoSync(true);
  }

  Office.onReady(() => {
    $("save").addEventListener("click", () => saveSettings().catch((err) => setStatus(err.message, true)));
    $("sync").addEventListener("click", () => runSync(null));
    $("autoSync").addEventListener("change", () =>
      setAutoSync($("autoSync").checked).catch((err) => setStatus(`Sync automatically: ${err.message}`, true)));
    restoreAutoSync().catch((err) => setStatus(`Sync automatically: ${err.message}`, true));
    $("cancel").addEventListener("click", () => cancelController && cancelController.abort());
    loadSettings().catch((err) => setStatus(`Cannot read settings: ${err.message}`, true));
  });
})();
