// Access tokens: random, handed to the client once, stored only as a SHA-256 digest in _skyflow_token so a
// database dump does not hold usable tokens. Logout revokes; lookup refuses revoked tokens.
import { createHash, randomBytes } from "node:crypto";
import type pg from "pg";
import { ident } from "../../db/pool.js";

export function digest(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

function table(schema: string): string {
  return `${ident(schema)}."_skyflow_token"`;
}

export async function issueToken(pool: pg.Pool, schema: string, authId: string): Promise<string> {
  const token = randomBytes(24).toString("base64url");
  await pool.query(`INSERT INTO ${table(schema)} (token, auth_id, issued_at) VALUES ($1, $2, now())`, [
    digest(token),
    authId,
  ]);
  return token;
}

export async function revokeToken(pool: pg.Pool, schema: string, token: string): Promise<void> {
  await pool.query(`UPDATE ${table(schema)} SET revoked_at = now() WHERE token = $1 AND revoked_at IS NULL`, [
    digest(token),
  ]);
}
