// Client CPU per call of the container over HTTP, next to a raw undici Pool and plain axios, against a
// trivial JSON server in another process, 32 concurrent callers. Prints medians of several rounds and the
// ratio container/undici (target <= 2x). Run: npx tsx bench/container.ts [calls-per-round] [rounds]
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import axios from "axios";
import { Pool } from "undici";
import { SkygearContainer } from "../src/skygear/container.js";
import { createHttpTransport } from "../src/skygear/transport-http.js";
import { median } from "./lib.js";

const CALLERS = 32;
const CALLS = Number(process.argv[2] ?? 10_000);
const ROUNDS = Number(process.argv[3] ?? 7);

// The answer is about the size the performance facts were measured with (286 bytes).
const SERVER = `
const http = require("node:http");
const answer = JSON.stringify({ result: { status: "OK", pad: "x".repeat(250) } }) + "\\n";
const server = http.createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(answer) });
    res.end(answer);
  });
});
server.keepAliveTimeout = 60000;
server.listen(0, "127.0.0.1", () => console.log(server.address().port));
`;

async function startServer(): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ["-e", SERVER], { stdio: ["ignore", "pipe", "inherit"] });
  const [chunk] = (await once(child.stdout!, "data")) as [Buffer];
  return { child, url: `http://127.0.0.1:${chunk.toString().trim()}` };
}

type Call = () => Promise<unknown>;

/** Runs `calls` calls from 32 callers; returns client CPU µs per call and calls per second. */
async function measure(call: Call, calls: number): Promise<{ cpuUs: number; rate: number }> {
  let left = calls;
  const worker = async () => {
    while (left-- > 0) await call();
  };
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: CALLERS }, worker));
  const ns = Number(process.hrtime.bigint() - t0);
  const cpu = process.cpuUsage(cpu0);
  return { cpuUs: (cpu.user + cpu.system) / calls, rate: calls / (ns / 1e9) };
}

async function main(): Promise<void> {
  const { child, url } = await startServer();
  const body = { action: "_status:healthz", api_key: "bench-key", params: { a: 1 } };
  const pool = new Pool(url, { connections: 32 });
  const rawUndici: Call = async () => {
    const res = await pool.request({
      path: "/_status/healthz",
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return res.body.json();
  };
  const plainAxios: Call = () => axios.post(`${url}/_status/healthz`, body);
  const container = new SkygearContainer({
    transport: createHttpTransport({ endpoint: url, connections: 32 }),
    apiKey: "bench-key",
  });
  const viaContainer: Call = () => container.sendAction("_status:healthz", { params: { a: 1 } });
  const clients: [string, Call][] = [
    ["undici Pool", rawUndici],
    ["plain axios", plainAxios],
    ["container (axios + undici adapter)", viaContainer],
  ];
  const results = new Map<string, { cpu: number[]; rate: number[] }>(
    clients.map(([n]) => [n, { cpu: [], rate: [] }]),
  );
  for (const [, call] of clients) await measure(call, 2_000); // warm up JIT and sockets
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, call] of clients) {
      const r = await measure(call, name === "plain axios" ? Math.ceil(CALLS / 4) : CALLS);
      results.get(name)!.cpu.push(r.cpuUs);
      results.get(name)!.rate.push(r.rate);
    }
  }
  console.log(`client CPU per call, ${CALLERS} callers, ${CALLS} calls x ${ROUNDS} rounds (medians)`);
  for (const [name, r] of results) {
    console.log(
      `  ${name.padEnd(36)} ${median(r.cpu).toFixed(1).padStart(7)} µs/call ${median(r.rate).toFixed(0).padStart(7)} calls/s`,
    );
  }
  const ratio =
    median(results.get("container (axios + undici adapter)")!.cpu) / median(results.get("undici Pool")!.cpu);
  console.log(`  ratio container/undici: ${ratio.toFixed(2)}x (target <= 2x)`);
  await container.close();
  await pool.close();
  child.kill();
}

await main();
