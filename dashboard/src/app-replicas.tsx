// An application's replicas as Swarm runs them, and what they print, followed live.
import { useEffect, useRef, useState } from "react";
import { RuntimeLogLineFromJSON } from "@api";
import type { ApplicationView } from "@api";

import { Apis } from "./client";
import { Banner } from "./form";
import { useLoad } from "./hooks";
import { LogView, useLines } from "./log";
import { follow } from "./stream";

export function ReplicasTab(props: { api: Apis; token: string; app: ApplicationView }): JSX.Element {
  const { api, token, app } = props;
  const runtime = useLoad(() => api.applications.runtime({ id: app.id }), [api, app.id, app.status, app.updatedAt]);
  const r = runtime.data;
  return (
    <>
      {runtime.problem !== null ? <Banner>{runtime.problem.detail}</Banner> : null}
      {r === null ? null : (
        <>
          <p className="summary">
            {r.running} of {r.desired} running · service <code>{r.service}</code>
            {r.updateState ? ` · update ${r.updateState}` : ""}
            {r.updateMessage ? ` (${r.updateMessage})` : ""}{" "}
            <button type="button" onClick={() => void runtime.reload()}>
              Read again
            </button>
          </p>
          {r.lastError ? <Banner>{r.lastError}</Banner> : null}
          {r.replicas.length === 0 ? (
            <p className="empty">No replicas: the application is not running.</p>
          ) : (
            <table className="projects" aria-label="Replicas">
              <thead>
                <tr>
                  <th scope="col">Slot</th>
                  <th scope="col">State</th>
                  <th scope="col">Wanted</th>
                  <th scope="col">Host ports</th>
                  <th scope="col">Task</th>
                </tr>
              </thead>
              <tbody>
                {r.replicas.map((t) => (
                  <tr key={t.taskId}>
                    <th scope="row">{t.slot ?? "–"}</th>
                    <td data-label="State">
                      <span className={`status status-${t.state}`}>{t.state}</span>
                      {t.error ? <span className="description">{t.error}</span> : null}
                    </td>
                    <td data-label="Wanted">{t.desired}</td>
                    <td data-label="Host ports">{t.hostPorts.map(([c, h]) => `${c} → ${h}`).join(", ") || "–"}</td>
                    <td data-label="Task">
                      <code>{t.taskId.slice(0, 12)}</code>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      )}
      <RuntimeLog token={token} id={app.id} />
    </>
  );
}

/** The last lines the replicas printed, then each new one, until the page goes away. */
function RuntimeLog(props: { token: string; id: string }): JSX.Element {
  const { token, id } = props;
  const { lines, version, push } = useLines();
  const [failure, setFailure] = useState<string | null>(null);
  const next = useRef(0);
  useEffect(() => {
    const abort = new AbortController();
    follow(
      `/api/v1/applications/${id}/logs/stream?tail=200`,
      token,
      (e) => {
        if (e.event === "log") {
          const l = RuntimeLogLineFromJSON(e.data);
          const task = l.taskId ? `${l.taskId.slice(0, 6)} ` : "";
          push({ key: next.current++, text: `${task}${l.text}`, level: l.stream === "stderr" ? "warn" : "info" });
        }
      },
      abort.signal,
    ).catch((err: unknown) => {
      if (!abort.signal.aborted) {
        setFailure(err instanceof Error ? err.message : String(err));
      }
    });
    return () => abort.abort();
  }, [id, token, push]);
  return (
    <section className="card wide" aria-labelledby="runtime-log-title">
      <h2 id="runtime-log-title">
        What the replicas print <span className="live"> live</span>
      </h2>
      {failure !== null ? <Banner>{failure}</Banner> : null}
      <LogView label="Runtime log" lines={lines} version={version} id="runtime-log" />
    </section>
  );
}
