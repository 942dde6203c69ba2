// An application's replicas as Swarm runs them, and what they print, followed live.
import { useEffect, useRef, useState } from "react";
import { RuntimeLogLineFromJSON } from "@api";
import type { ApplicationView, UsageView } from "@api";

import { UsageChart } from "./chart";
import { Apis, problemOf } from "./client";
import { Banner, TableHead } from "./form";
import { useLoad } from "./hooks";
import { LogView, useFollow, useLines } from "./log";

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
              <TableHead columns={["Slot", "State", "Wanted", "Host ports", "Task"]} />
              <tbody>
                {r.replicas.map((t) => (
                  <tr key={t.taskId}>
                    <th scope="row">{t.slot ?? "–"}</th>
                    <td data-label="State">
                      <span className={`status status-${t.state}`}>{t.state}</span>
                      {t.error ? <span className="description">{t.error}</span> : null}
                    </td>
                    <td data-label="Wanted">{t.desired}</td>
                    <td data-label="Host ports">{[...new Set(t.hostPorts.map(([c, h]) => `${c} → ${h}`))].join(", ") || "–"}</td>
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
      {app.status === "running" || app.status === "deploying" || app.status === "scaling" ? <Usage api={api} id={app.id} /> : null}
      <RuntimeLog token={token} id={app.id} />
    </>
  );
}

/** How many samples the charts keep: five minutes at one every five seconds. */
const SAMPLES = 60;
const EVERY_MS = 5000;

const cpu = (r: UsageView["replicas"][number]): number => r.cpuPercent;
const memory = (r: UsageView["replicas"][number]): number => r.memoryBytes / 2 ** 20;

/**
 * What the replicas use, measured by the engine each time it is asked: one sample every five
 * seconds while the tab is open (a measurement has no stream to follow), the last five minutes
 * charted.
 */
function Usage(props: { api: Apis; id: string }): JSX.Element {
  const { api, id } = props;
  const [samples, setSamples] = useState<UsageView[]>([]);
  const [failure, setFailure] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    let timer: number | null = null;
    const sample = async (): Promise<void> => {
      try {
        const u = await api.applications.usage({ id });
        if (live) {
          setSamples((s) => [...s.slice(-(SAMPLES - 1)), u]);
          setFailure(null);
        }
      } catch (e) {
        if (live) {
          setFailure((await problemOf(e)).detail);
        }
      }
      if (live) {
        timer = window.setTimeout(() => void sample(), EVERY_MS);
      }
    };
    void sample();
    return () => {
      live = false;
      if (timer !== null) {
        window.clearTimeout(timer);
      }
    };
  }, [api, id]);
  const last = samples[samples.length - 1];
  return (
    <section className="card wide" aria-labelledby="usage-title">
      <h2 id="usage-title">CPU and memory</h2>
      {failure !== null ? <Banner>{failure}</Banner> : null}
      {last !== undefined ? (
        <table className="projects" aria-label="Usage">
          <TableHead columns={["Replica", "CPU", "Memory"]} />
          <tbody>
            {last.replicas.map((r) => (
              <tr key={r.taskId}>
                <th scope="row">{r.slot ?? "–"}</th>
                <td data-label="CPU">{r.cpuPercent.toFixed(1)} % of a core</td>
                <td data-label="Memory">
                  {(r.memoryBytes / 2 ** 20).toFixed(1)} MiB
                  {r.memoryLimitBytes ? ` of ${(r.memoryLimitBytes / 2 ** 20).toFixed(0)} MiB` : ""}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      <div className="charts">
        <UsageChart samples={samples} label="CPU" unit="% of a core" value={cpu} />
        <UsageChart samples={samples} label="Memory" unit="MiB" value={memory} />
      </div>
    </section>
  );
}

/** The last lines the replicas printed, then each new one, until the page goes away. */
function RuntimeLog(props: { token: string; id: string }): JSX.Element {
  const { token, id } = props;
  const { lines, version, push } = useLines();
  const next = useRef(0);
  const failure = useFollow(`/api/v1/applications/${id}/logs/stream?tail=200`, token, (e) => {
    if (e.event === "log") {
      const l = RuntimeLogLineFromJSON(e.data);
      const task = l.taskId ? `${l.taskId.slice(0, 6)} ` : "";
      push({ key: next.current++, text: `${task}${l.text}`, level: l.stream === "stderr" ? "warn" : "info" });
    }
  });
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
