// The hostile request cases (issue 20, points 3 and 4): malformed bodies, credentials and every parameter of
// every action the development server implements, each with how v1 answers its refusal (a 4xx, or per-item
// errors in a 200). Used against an in-process server (hostile-http) and `skyflow serve`/`start` (hostile-cli).
import { expect } from "vitest";
import { type Case, save, type Who } from "./hostile-case-kit.js";
import { RECORD_CASES } from "./hostile-cases-records.js";
import { REQUEST_CASES } from "./hostile-cases-requests.js";
import type { Target } from "./hostile-kit.js";
import { post, type RawResponse } from "./http-client.js";

export type { Case } from "./hostile-case-kit.js";

function headers(t: Target, who: Who): Record<string, string> {
  if (who === "none") return {};
  if (who === "master") return { "X-Skygear-API-Key": t.masterKey };
  if (who === "client") return { "X-Skygear-API-Key": t.apiKey };
  return { "X-Skygear-API-Key": t.apiKey, "X-Skygear-Access-Token": t[who].token };
}

/** Sends one case to the server of `t` as its user. */
export async function sendCase(t: Target, c: Case): Promise<RawResponse> {
  const hdrs = headers(t, c.who ?? "mallory");
  if (c.raw) {
    const res = await fetch(new URL(c.path, t.url), {
      method: "POST",
      headers: { "Content-Type": "application/json", ...hdrs },
      body: c.body as string | Uint8Array,
    });
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, text, json };
  }
  return post(t.url, c.path, typeof c.body === "function" ? c.body(t) : c.body, hdrs);
}

/** The records the cases expect (mallory's note, a referenced target) and the master key's _auth row. */
export async function seedCases(t: Target): Promise<void> {
  const setup = await post(
    t.url,
    "/record/save",
    save([
      {
        _id: "note/seed",
        title: "seed",
        n: 1,
        at: { $type: "date", $date: "2020-01-01T00:00:00Z" },
        meta: { a: 1 },
      },
      { _id: "target/t1", name: "t" },
      { _id: "holder/h1", t: { $type: "ref", $id: "target/t1" } },
    ]),
    headers(t, "mallory"),
  );
  expect(setup.json.result.every((r: { _type: string }) => r._type === "record")).toBe(true);
  // The master key's user (_god) gets its _auth row on first use; not a case's doing.
  expect((await post(t.url, "/me", {}, headers(t, "master"))).status).toBe(200);
}

export const HOSTILE_CASES: Case[] = [...REQUEST_CASES, ...RECORD_CASES];
