// Who a step acts as, end to end from the workflow file to the server's access rules, over both transports
// (HTTP to the development server, and its handler in-process): no `as:` is the API key with no user, `master`
// the master key, a user id impersonation; an expression's value never means master.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appSchemaName } from "../../src/config.js";
import { resolveTemplate } from "../../src/engine/definition/expressions.js";
import { loadWorkflowSource } from "../../src/engine/definition/load.js";
import type { ExprContext } from "../../src/engine/definition/types.js";
import { stepKinds } from "../../src/engine/step-kinds.js";
import { formatProblem } from "../../src/errors.js";
import { silentLogger } from "../../src/log.js";
import { createContainer, SkygearContainer } from "../../src/skygear/container.js";
import { createInProcessTransport } from "../../src/skygear/transport-inprocess.js";
import { classifyError } from "../../src/steps/classify.js";
import type { StepClients } from "../../src/steps/types.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import {
  startTestServer,
  TEST_API_KEY,
  TEST_APP_NAME,
  TEST_MASTER_KEY,
  type TestServer,
} from "../helpers/server.js";

let db: TestDatabase;
let server: TestServer;
const transports: Record<string, SkygearContainer> = {};

beforeAll(async () => {
  db = await createTestDatabase("step_identity");
  server = await startTestServer(db.pool);
  transports.http = createContainer({
    endpoint: server.url,
    apiKey: TEST_API_KEY,
    masterKey: TEST_MASTER_KEY,
  });
  transports.inprocess = new SkygearContainer({
    transport: createInProcessTransport(server.handler),
    apiKey: TEST_API_KEY,
    masterKey: TEST_MASTER_KEY,
  });
  // alice's task only she may read, and a public one.
  await transports.http!.asUser("alice").save([
    { _id: "note/private", _access: [], title: "alice only" },
    { _id: "note/public", _access: [{ level: "read", public: true }], title: "anyone" },
  ]);
});
afterAll(async () => {
  for (const c of Object.values(transports)) await c.close();
  await server.close();
  await db.drop();
});

const event = {
  id: "e1",
  type: "pubsub" as const,
  at: "2026-01-01T00:00:00Z",
  channel: "c",
  data: { user: "alice", evil: "master", nobody: null },
};

/** The first step of a one-step workflow whose block is `block` (YAML), resolved against `event`. */
function stepInput(block: string, defaults = ""): { kind: string; input: unknown } {
  const text = `on: { pubsub: { channel: c } }\n${defaults}steps:\n  - ${block}\n`;
  const r = loadWorkflowSource("w.yaml", text);
  expect(r.problems.map(formatProblem)).toEqual([]);
  const step = r.workflow!.steps[0]!;
  const ctx: ExprContext = {
    event,
    steps: {},
    run: { id: "r", workflow: "w", attempt: 1, started_at: event.at },
    env: {},
    now: new Date(event.at),
    uuidSeed: "r:s",
  };
  return { kind: step.kind, input: resolveTemplate(step.input, ctx) };
}

async function run(transport: string, block: string, defaults = "") {
  const { kind, input } = stepInput(block, defaults);
  const clients = { skygear: transports[transport]!, pool: db.pool, appSchema: appSchemaName(TEST_APP_NAME) };
  return stepKinds[kind]!.run({
    input,
    signal: new AbortController().signal,
    attempt: 1,
    idempotencyKey: "r:s",
    log: silentLogger(),
    clients: clients as unknown as StepClients,
  });
}

async function failure(p: Promise<unknown>) {
  try {
    await p;
  } catch (err) {
    return classifyError(err);
  }
  throw new Error("expected the step to fail");
}

let saves = 0;
async function ownerOfSave(transport: string, as: string): Promise<unknown> {
  const block = `save: { record: { _id: memo/s${++saves}, title: t }, as: ${as} }`;
  return ((await run(transport, block)) as { record: Record<string, unknown> }).record._ownerID;
}

const titles = (out: unknown) => (out as { records: { title: string }[] }).records.map((r) => r.title).sort();

describe.each(["http", "inprocess"])("a step's identity (%s transport)", (transport) => {
  it("without as: calls with the API key and no user: public records only, and no save", async () => {
    expect(titles(await run(transport, "query: { type: note }"))).toEqual(["anyone"]);
    const err = await failure(run(transport, "save: { record: { _id: note/x, title: x } }"));
    expect(err.errorName).toMatch(/NotAuthenticated|PermissionDenied/);
    const del = await failure(run(transport, "delete: { ids: [note/public] }"));
    expect(del.errorName).toMatch(/NotAuthenticated|PermissionDenied/);
  });

  it("as: master reads every record, whoever owns it", async () => {
    expect(titles(await run(transport, "query: { type: note, as: master }"))).toEqual([
      "alice only",
      "anyone",
    ]);
  });

  // Impersonation sets the acting user (the owner of what it saves, its _private database) but, as on the
  // real server, keeps the master key's access (protocol §1.5): its reads are checked by ownership here.
  it("as a user id (from an expression, with or without user/) acts as that user", async () => {
    for (const as of ['"${{ event.data.user }}"', "user/alice", '"user/${{ event.data.user }}"', "alice"]) {
      expect(await ownerOfSave(transport, as)).toBe("alice");
    }
    expect(await ownerOfSave(transport, "master")).toBe("_god");
  });

  it("an expression whose value is 'master' acts as a user of that id, never as the master key", async () => {
    expect(await ownerOfSave(transport, '"${{ event.data.evil }}"')).toBe("master");
  });

  it("an expression that gives no user fails the step instead of acting as anyone else", async () => {
    const err = await failure(run(transport, 'query: { type: note, as: "${{ event.data.nobody }}" }'));
    expect(err.errorName).toBe("InvalidArgument");
    expect(err.message).toMatch(/no user id/);
  });

  it("defaults.as applies to every step without its own, and as: null opts back out", async () => {
    expect(titles(await run(transport, "query: { type: note }", "defaults: { as: master }\n"))).toEqual([
      "alice only",
      "anyone",
    ]);
    expect(
      titles(await run(transport, "query: { type: note, as: null }", "defaults: { as: master }\n")),
    ).toEqual(["anyone"]);
  });
});

describe("the stored input says who the step acted as", () => {
  it("as: master, as: user/<id>, or no as at all for the API key", () => {
    expect(stepInput("query: { type: note, as: master }").input).toMatchObject({ as: "master" });
    expect(stepInput('action: { name: me, as: "${{ event.data.user }}" }').input).toMatchObject({
      as: "user/alice",
    });
    expect(stepInput("delete: { ids: [a/b] }").input).not.toHaveProperty("as");
    expect(
      stepInput("delete: { ids: [a/b], as: null }", "defaults: { as: master }\n").input,
    ).not.toHaveProperty("as");
  });
});
