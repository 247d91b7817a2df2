// Classification of Skygear failures for the engine (pure: no I/O): what is worth a retry and what is not.
import { describe, expect, it } from "vitest";
import { errorFromItem, errorFromResponse, isRetryable, networkError } from "../../src/skygear/errors.js";

describe("isRetryable", () => {
  it.each([
    ["NetworkError", 0, true],
    ["Timeout", 0, true],
    ["PluginUnavailable", 503, true],
    ["PluginInitializing", 503, true],
    ["ResponseTimeout", 503, true],
    ["UnexpectedUnableToOpenDatabase", 503, true],
    ["UnexpectedError", 500, true],
    ["HttpError", 502, true],
    ["HttpError", 429, true],
    ["PermissionDenied", 403, false],
    ["InvalidArgument", 400, false],
    ["ResourceNotFound", 404, false],
    ["NotSupported", 501, false],
    ["UnexpectedPushNotificationNotConfigured", 500, false],
    ["PluginUnavailable", 200, true],
    ["Duplicated", 200, false],
  ])("%s with HTTP %i -> %s", (name, status, expected) => {
    expect(isRetryable(name, status)).toBe(expected);
  });
});

describe("errors built from answers", () => {
  it("replaces every secret in a server message and info", () => {
    const body = {
      error: {
        name: "AccessKeyNotAccepted",
        code: 103,
        message: "bad k3y",
        info: { api_key: "x", k: "k3y" },
      },
    };
    const e = errorFromResponse("record:query", 401, body, ["k3y"]);
    expect(e.message).toBe("record:query failed: AccessKeyNotAccepted (103, HTTP 401): bad [redacted]");
    expect(e.info).toEqual({ api_key: "[redacted]", k: "[redacted]" });
    expect(e.retryable).toBe(false);
  });

  it("names a non-Skygear 502 HttpError, retryable", () => {
    const e = errorFromResponse("me", 502, undefined, []);
    expect([e.errorName, e.skygearCode, e.status, e.retryable]).toEqual(["HttpError", 0, 502, true]);
  });

  it("keeps an item's own info next to the other errors", () => {
    const item = {
      _type: "error",
      _id: "a/1",
      name: "Duplicated",
      code: 109,
      message: "dup",
      info: { f: 1 },
    };
    const e = errorFromItem("record:save", item, { errors: [item] }, []);
    expect(e.info).toEqual({ id: "a/1", itemInfo: { f: 1 }, errors: [item] });
    expect(e.message).toBe("record:save failed for a/1: Duplicated (109): dup");
  });

  it("keeps only the system code of a network failure", () => {
    const cause = Object.assign(new Error("connect ECONNRESET"), {
      code: "ECONNRESET",
      config: { data: "k" },
    });
    const e = networkError("record:save", cause);
    expect([e.errorName, e.info, e.cause]).toEqual(["NetworkError", { code: "ECONNRESET" }, undefined]);
  });
});
