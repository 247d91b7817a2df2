// The official clients against both servers: one scenario through the official JS SDK (npm skygear) and
// one through py-skygear's SkygearContainer (../shared/py-skygear, run by python3), each run against
// `skyflow serve` and against the real Skygear v1.7.3 server; the normalised results must be the same.
// Push is left out: the real server has no push provider and answers 10003.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { type Any, closeContainer, sdkContainer } from "../helpers/sdk.js";
import { TEST_API_KEY, TEST_MASTER_KEY } from "../helpers/server.js";
import { normalise, type Pair, startPair, Target } from "./harness.js";

const started = await startPair("clients");
const pair: Pair | undefined = started.ok ? started.pair : undefined;

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function failure(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    const err = (e as Any)?.error ?? e;
    return { code: err?.code, name: err?.name, message: err?.message };
  }
  return "no error";
}

/** The SDK scenario: what each step answered, as plain JSON. */
async function sdkScenario(url: string, tag: string): Promise<unknown[]> {
  const log: unknown[] = [];
  const alice = await sdkContainer(url, TEST_API_KEY);
  const bob = await sdkContainer(url, TEST_API_KEY);
  try {
    const Note = alice.Record.extend("clientnote");
    const user = await alice.auth.signupWithUsername(`alice-${tag}`, "pw-alice", { nickname: "Al" });
    log.push(["signup", user.toJSON()]);
    await bob.auth.signupWithUsername(`bob-${tag}`, "pw-bob");
    log.push(["wrong password", await failure(bob.auth.loginWithUsername(`alice-${tag}`, "nope"))]);
    const saved = await alice.publicDB.save([
      new Note({ _id: "clientnote/apple", title: "apple pie", n: 1, when: new Date("2020-01-02T03:04:05Z") }),
      new Note({ _id: "clientnote/banana", title: "banana", n: 2 }),
      new Note({ _id: "clientnote/cherry", title: "cherry tart", n: 3 }),
    ]);
    log.push(["save", saved.savedRecords.map((r: Any) => r?.toJSON())]);
    const q = new alice.Query(Note).greaterThan("n", 1).addDescending("n");
    log.push(["query", (await alice.publicDB.query(q)).map((r: Any) => r.toJSON())]);
    const like = new alice.Query(Note).like("title", "%pie%");
    log.push(["query like", (await bob.publicDB.query(like)).map((r: Any) => r.toJSON())]);
    const [banana] = await alice.publicDB.query(new alice.Query(Note).equalTo("title", "banana"));
    banana.n = 20;
    log.push(["update", (await bob.publicDB.save(banana)).toJSON()]);
    await alice.publicDB.delete(banana);
    log.push(["after delete", (await alice.publicDB.query(new alice.Query(Note).equalTo("n", 20))).length]);
    const secret = new Note({ _id: "clientnote/secret", title: "secret" });
    secret.setPublicNoAccess();
    secret.setReadWriteAccessForUser(alice.auth.currentUser);
    await alice.publicDB.save(secret);
    log.push([
      "bob reads secret",
      (await bob.publicDB.query(new bob.Query(Note).equalTo("title", "secret"))).length,
    ]);
    log.push(["me", (await alice.auth.whoami()).toJSON()]);
    const got: unknown[] = [];
    alice.pubsub.on(`chat-${tag}`, (d: unknown) => got.push(d));
    await until(() => alice.pubsub._pubsub.connected);
    await new Promise((r) => setTimeout(r, 200));
    bob.pubsub.publish(`chat-${tag}`, { text: "hi", n: 1 });
    await until(() => got.length > 0);
    log.push(["pubsub", got]);
    await alice.auth.logout();
    log.push(["after logout", await failure(alice.publicDB.save(new Note({ title: "late" })))]);
  } finally {
    closeContainer(alice);
    closeContainer(bob);
  }
  return log;
}

const PY_HOME = ["/work/shared/py-skygear", join(process.cwd(), "../shared/py-skygear")].find((d) =>
  existsSync(join(d, "skygear/container.py")),
);

/** py-skygear's SkygearContainer with the master key acting as a user, as the seed's cloud code uses it. */
const PY_SCENARIO = `
import json, sys, requests
from skygear import container as sc
from skygear.container import SkygearContainer, PayloadEncoder

class Transport:
    def send_action(self, action_name, payload, url, timeout):
        r = requests.post(url, data=json.dumps(payload, cls=PayloadEncoder),
                          headers={"Content-type": "application/json"}, timeout=timeout)
        return {"status": r.status_code, "body": r.json()}

url, api_key, master_key, tag = sys.argv[1:5]
SkygearContainer.set_default_transport(Transport())
anon = SkygearContainer(endpoint=url, api_key=api_key)
out = []
signup = anon.send_action("auth:signup", {"auth_data": {"username": "carol-" + tag}, "password": "pw"})
out.append(["signup", signup])
uid = signup["body"]["result"]["user_id"]
carol = SkygearContainer(endpoint=url, api_key=master_key, user_id=uid)
out.append(["save", carol.send_action("record:save", {"database_id": "_public", "records": [
    {"_id": "pynote/1", "text": "hello", "n": 1.5, "tags": ["a", "b"]},
    {"_id": "pynote/2", "text": "bye", "when": {"$type": "date", "$date": "2021-05-06T07:08:09Z"}},
    {"_id": "bad"}]})])
out.append(["query", carol.send_action("record:query", {"database_id": "_public", "record_type": "pynote",
    "predicate": ["gte", {"$type": "keypath", "$val": "n"}, 1], "count": True})])
out.append(["bad query", carol.send_action("record:query", {"database_id": "_public", "record_type": "pynote",
    "predicate": ["near", {"$type": "keypath", "$val": "n"}, 1]})])
out.append(["delete", carol.send_action("record:delete", {"database_id": "_public", "ids": ["pynote/2", "pynote/9"]})])
out.append(["me", carol.send_action("me", {})])
out.append(["god", SkygearContainer(endpoint=url, api_key=master_key).send_action("record:fetch",
    {"database_id": "_public", "ids": ["pynote/1"]})])
print(json.dumps(out))
`;

async function pyScenario(dir: string, url: string, tag: string): Promise<unknown> {
  const out = await new Promise<string>((ok, fail) => {
    execFile(
      "python3",
      ["-c", PY_SCENARIO, url, TEST_API_KEY, TEST_MASTER_KEY, tag],
      { env: { ...process.env, PYTHONPATH: `${dir}:${PY_HOME}` }, timeout: 60_000 },
      (err, stdout, stderr) => (err ? fail(new Error(`${err.message}\n${stderr}`)) : ok(stdout)),
    );
  });
  return JSON.parse(out);
}

/** The three modules container.py imports but send_action never uses (see ../shared/py-skygear/README.md). */
async function pyStandIns(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "py-skygear-"));
  await writeFile(
    join(dir, "strict_rfc3339.py"),
    [
      "import datetime",
      "def timestamp_to_rfc3339_utcoffset(ts):",
      "    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).isoformat().replace('+00:00', 'Z')",
      "",
    ].join("\n"),
  );
  // A package `skygear` whose path also holds the published modules: database and utils.logging stand-ins.
  const pkg = join(dir, "skygear");
  await import("node:fs/promises").then((fs) => fs.mkdir(join(pkg, "utils"), { recursive: true }));
  await writeFile(
    join(pkg, "__init__.py"),
    `import os\n__path__.append(os.path.join(${JSON.stringify(PY_HOME)}, "skygear"))\n`,
  );
  await writeFile(join(pkg, "database.py"), "class Database:\n    def __init__(self, c, d):\n        pass\n");
  await writeFile(join(pkg, "utils", "__init__.py"), "");
  await writeFile(join(pkg, "utils", "logging.py"), "def setLoggerTag(l, t):\n    pass\n");
  return dir;
}

function same(label: string, real: unknown, sky: unknown, urls: { real: string; sky: string }): void {
  const r = normalise(real, new Target("real", urls.real));
  const s = normalise(sky, new Target("sky", urls.sky));
  if (!isDeepStrictEqual(r, s)) {
    expect.fail(
      `${label}: the clients saw different answers\nreal:    ${JSON.stringify(r)}\nskyflow: ${JSON.stringify(s)}`,
    );
  }
}

describe.skipIf(!pair)("official clients against skyflow serve and the real Skygear v1.7.3", () => {
  afterAll(async () => {
    await pair?.stop();
  });

  it("the JS SDK sees the same answers from both", async () => {
    const real = await sdkScenario(pair!.real.url, "js");
    const sky = await sdkScenario(pair!.sky.url, "js");
    expect(real.length).toBeGreaterThan(10);
    same("JS SDK", real, sky, { real: pair!.real.url, sky: pair!.sky.url });
  }, 60_000);

  it.skipIf(!PY_HOME)(
    "py-skygear's SkygearContainer sees the same answers from both",
    async () => {
      const dir = await pyStandIns();
      try {
        const real = await pyScenario(dir, pair!.real.url, "py");
        const sky = await pyScenario(dir, pair!.sky.url, "py");
        same("py-skygear", real, sky, { real: pair!.real.url, sky: pair!.sky.url });
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
    120_000,
  );
});

if (!started.ok) {
  describe("official clients", () => {
    it.skip(`skipped: the real Skygear server cannot start: ${started.reason}`, () => {});
  });
}
