// `/dev` (under `skyflow dev` only): the pushes the development server recorded instead of sending, and the
// pubsub messages it carried, newest first; live.
import type { PubsubMessage, PushView } from "../../../src/http/api-types.js";
import { useLive, useNow } from "../api.js";
import { ago, localTime } from "../format.js";
import { Json, Layout, Loading } from "../ui.js";

export function DevPage() {
  const pushes = useLive<PushView[]>("/api/dev/pushes", (e) => e.type === "dev");
  const pubsub = useLive<PubsubMessage[]>("/api/dev/pubsub", (e) => e.type === "dev");
  const now = useNow(true);
  return (
    <Layout title="Pushes and pubsub">
      <h1>Pushes</h1>
      <p class="muted small">
        Recorded by the development server instead of being sent (it has no APNs or FCM credentials).
      </p>
      {pushes.data ? (
        pushes.data.length ? (
          <ul class="feed">
            {pushes.data.map((p) => (
              <li key={p.id}>
                <p>
                  <strong>push:{p.kind}</strong> to <span class="mono wrap">{p.ids.join(", ")}</span>
                  {p.topic ? ` (topic ${p.topic})` : ""} · {p.devices.length} device
                  {p.devices.length === 1 ? "" : "s"} ·{" "}
                  <span title={localTime(p.createdAt)}>{ago(p.createdAt, now)}</span>
                </p>
                <Json value={p.notification} label="notification" />
              </li>
            ))}
          </ul>
        ) : (
          <p class="muted">No pushes yet.</p>
        )
      ) : (
        <Loading error={pushes.error} />
      )}
      <h2>Pubsub messages</h2>
      <p class="muted small">The last 200 messages the development server carried since it started.</p>
      {pubsub.data ? (
        pubsub.data.length ? (
          <ul class="feed">
            {pubsub.data.map((m) => (
              <li key={m.seq}>
                <p>
                  <strong class="mono">{m.channel}</strong>
                  {m.hub === "internal" ? " (internal)" : ""} · reached {m.sent} ·{" "}
                  <span title={localTime(m.at)}>{ago(m.at, now)}</span>
                </p>
                <Json value={m.data} label="data" />
              </li>
            ))}
          </ul>
        ) : (
          <p class="muted">No messages yet.</p>
        )
      ) : (
        <Loading error={pubsub.error} />
      )}
    </Layout>
  );
}
