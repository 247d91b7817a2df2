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

  it("counts parked runs by what they wait for, and prints none when the count fails", async () => {
    let fail = false;
    const metrics = createMetrics({
      parkedRuns: async () => {
        if (fail) throw new Error("database gone");
        return { sleep: 3, wait_for: 2 };
      },
    });
    const text = await metrics.render();
    expect(text).toMatch(/^skyflow_runs_parked\{waiting_for="sleep"\} 3$/m);
    expect(text).toMatch(/^skyflow_runs_parked\{waiting_for="wait_for"\} 2$/m);
    expect(text).toMatch(/^skyflow_runs_parked\{waiting_for="call"\} 0$/m);
    fail = true;
    expect(await metrics.render()).not.toMatch(/^skyflow_runs_parked\{/m);
  });
});
