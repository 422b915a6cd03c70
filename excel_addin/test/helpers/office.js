"use strict";
/* Stubs of the Office runtime globals the add-in uses: CustomFunctions and OfficeRuntime.storage. */

const ErrorCode = Object.freeze({
  invalidValue: "#VALUE!",
  notAvailable: "#N/A",
  divisionByZero: "#DIV/0!",
  invalidNumber: "#NUM!",
  nullReference: "#NULL!",
  invalidName: "#NAME?",
  invalidReference: "#REF!",
});

class CustomFunctionsError {
  constructor(code, message) {
    this.code = code;
    if (message !== undefined) this.message = message;
  }
}

function createCustomFunctions() {
  const associated = new Map();
  return {
    associated,
    ErrorCode,
    Error: CustomFunctionsError,
    associate(id, fn) {
      if (typeof id === "object") {
        for (const [k, v] of Object.entries(id)) associated.set(k, v);
      } else {
        associated.set(id, fn);
      }
    },
  };
}

function createStorage(initial = {}) {
  const data = new Map(Object.entries(initial));
  return {
    data,
    async getItem(key) {
      return data.has(key) ? data.get(key) : null;
    },
    async setItem(key, value) {
      data.set(key, String(value));
    },
    async removeItem(key) {
      data.delete(key);
    },
  };
}

/** Installs the globals; returns {CustomFunctions, storage}. */
function installOfficeGlobals(initialStorage = {}) {
  const cf = createCustomFunctions();
  const storage = createStorage(initialStorage);
  globalThis.CustomFunctions = cf;
  globalThis.OfficeRuntime = { storage };
  return { CustomFunctions: cf, storage };
}

module.exports = { ErrorCode, createCustomFunctions, createStorage, installOfficeGlobals };
