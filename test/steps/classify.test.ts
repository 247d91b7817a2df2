import { describe, expect, it } from "vitest";
import { FatalStepError, RetryableStepError } from "../../src/errors.js";
import { SkygearError } from "../../src/skygear/errors.js";
import { classifyError, isRetryableSqlState } from "../../src/steps/classify.js";

describe("classifyError", () => {
  it("keeps a Skygear error's name and retryable flag", () => {
    const denied = classifyError(
      new SkygearError({ errorName: "PermissionDenied", skygearCode: 102, status: 403, message: "no" }),
    );
    expect(denied).toBeInstanceOf(FatalStepError);
    expect(denied.errorName).toBe("PermissionDenied");
    const busy = classifyError(
      new SkygearError({ errorName: "UnexpectedError", skygearCode: 10000, status: 503, message: "busy" }),
    );
    expect(busy).toBeInstanceOf(RetryableStepError);
  });

  it("makes network failures retryable NetworkError and an expired try a Timeout", () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
    expect(classifyError(refused)).toMatchObject({ errorName: "NetworkError", retryable: true });
    expect(classifyError(new Error("aborted"), { timedOut: { stepKey: "s", timeoutMs: 50 } })).toMatchObject({
      errorName: "Timeout",
      retryable: true,
    });
  });

  it("makes node-postgres's connection-lost errors (no code) retryable NetworkError", () => {
    for (const m of [
      "Connection terminated unexpectedly",
      "Connection terminated",
      "Client has encountered a connection error and is not queryable",
    ])
      expect(classifyError(new Error(m))).toMatchObject({ errorName: "NetworkError", retryable: true });
    expect(classifyError(new Error("Connection terminated by the step"))).toMatchObject({ retryable: false });
  });

  it("treats an unknown error as fatal and leaves step errors as they are", () => {
    expect(classifyError(new TypeError("x is undefined"))).toMatchObject({
      errorName: "InternalError",
      retryable: false,
    });
    const own = new RetryableStepError("Custom", "again");
    expect(classifyError(own)).toBe(own);
  });

  it("knows the SQLSTATEs a retry can fix", () => {
    expect(
      ["40001", "40P01", "55P03", "57P01", "57P02", "57P03", "08006", "53300"].every(isRetryableSqlState),
    ).toBe(true);
    expect(["42601", "23505", "42P01"].some(isRetryableSqlState)).toBe(false);
  });
});
