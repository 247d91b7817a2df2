// The daemon's V8 heap sizes, set as the process starts (bin/skyflow.js imports this first): the young
// generation's growth, and the old generation's limit.
import { PerformanceObserver } from "node:perf_hooks";
import { getHeapSpaceStatistics, setFlagsFromString } from "node:v8";

// V8's young generation: 1 MB at first (idle), grown under load to YOUNG_MB (6 MB: 3 MB semi-spaces) and no
// further, where V8's own growth takes it to 16 MB semi-spaces (about 30 MB more resident memory, idle and
// under load). With 1 MB semi-spaces a run in flight outlived several scavenges (a few milliseconds apart
// while draining a backlog): its objects were copied, promoted to the old generation and collected there, and
// scavenges took about a fifth of the daemon's CPU. In alternating runs of a 20,000-change backlog through a
// `sql` step (bench/peers.ts --only=ab, 4 rounds, load 10-21): CPU per run 0.598 against 0.740 ms, peak RSS
// 90 against 86 MB; at load 3.6-4.1, 10,000 changes: throughput 1.10x (min 1.04, max 1.14), CPU per run
// 0.570 against 0.629 ms, peak RSS 91 against 88 MB. Against graphile-worker (3 rounds) peak RSS 92 against
// 99 MB. 8 MB bought nothing more (throughput 0.97x of 6 MB's, the same CPU) for 2 MB more.
// The size is V8's growth factor, set after every collection: 3 takes the initial young generation to 6 MB
// in one growth; 1 then keeps it there (and brings it back there after V8 shrank it while idle).
const YOUNG_MB = 6;
const youngMb = () => getHeapSpaceStatistics().find((s) => s.space_name === "new_space").space_size / 2 ** 20;
let factor = 0;
const sizeYoung = () => {
  const f = youngMb() >= YOUNG_MB ? 1 : 3;
  if (f !== factor) setFlagsFromString(`--semi-space-growth-factor=${f}`);
  factor = f;
};
sizeYoung();
new PerformanceObserver(sizeYoung).observe({ entryTypes: ["gc"] });

// And the old generation's limit grows to 1.5 times what survived the last full collection, where V8's own
// factor (up to 4) let it reach about 110 MB on 25-28 MB live while draining a backlog. In alternating runs of
// a 5,000-change backlog (bench/peers.ts --only=ab, load 12-17): peak RSS 100 against 158-163 MB, CPU per run
// 1.530 against 1.514 ms, the same throughput (ratio 1.00). 30% went down to 96 MB but cost 9% more CPU.
// Only the limit's growth: the heap grows as far as it needs to.
setFlagsFromString("--heap-growing-percent=50");
