// The metrics text before anything happened: gauges without a value have no sample, never NaN. No I/O.
import { describe, expect, it } from "vitest";
import { createMetrics } from "../src/metrics.js";

describe("createMetrics", () => {
  it("prints no sample, and never NaN, for a gauge with no value yet or a reading that failed", async () => {
    let lateness: number | undefined;
    const metrics = createMetrics({ outboxDepth: () => Promise.reject(new Error("database gone")) });
    metrics.setTriggerStats(() => ({ cronLatenessMs: lateness }));
    const before = await metrics.render();
    expect(before).not.toMatch(/nan/i);
    expect(before).toContain("# TYPE skyflow_cron_lateness_seconds gauge");
    expect(before).not.toMatch(/^skyflow_cron_lateness_seconds /m);
    expect(before).not.toMatch(/^skyflow_outbox_depth /m);
    expect(before).not.toMatch(/^skyflow_trigger_lag_seconds /m);
    lateness = 40;
    const after = await metrics.render();
    expect(after).toMatch(/^skyflow_cron_lateness_seconds 0\.04$/m);
    lateness = undefined;
    expect(await metrics.render()).not.toMatch(/^skyflow_cron_lateness_seconds /m);
  });
});
