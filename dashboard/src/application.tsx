// One application: its status and operations on every tab, and a tab each for its deployments
// (with the chosen one's log followed live), settings, environment, volumes, domains, webhook
// and service tokens, and replicas with their logs.
import { useCallback, useEffect, useRef, useState } from "react";
import { OperationViewFromJSON } from "@api";
import type { ApplicationView, DeploymentDetailView, DeploymentView, OperationView } from "@api";

import { Apis, Problem, problemOf } from "./client";
import { Banner, Confirm, TableHead } from "./form";
import { useAction, useLoad } from "./hooks";
import { APP_TABS, AppTab, href } from "./route";
import { follow } from "./stream";
import { useLive } from "./live";
import { DeploymentLog } from "./log";
import { SettingsTab } from "./app-settings";
import { EnvTab } from "./app-env";
import { VolumesTab } from "./app-volumes";
import { DomainsTab } from "./app-domains";
import { AccessTab } from "./app-access";
import { ReplicasTab } from "./app-replicas";
import { DurationsChart } from "./chart";

export function ApplicationPage(props: { api: Apis; token: string; id: string; tab?: AppTab }): JSX.Element {
  const { api, token, id } = props;
  const tab = props.tab ?? "overview";
  const loaded = useLoad(async () => {
    const app = await api.applications.getApplication({ id });
    const project = await api.projects.getProject({ id: app.projectId });
    return { app, project };
  }, [api, id]);
  const app = loaded.data?.app ?? null;
  const reload = loaded.reload;
  // The status follows the application's changes.
  useLive(
    (c) => c.kind === "application" && c.applicationId === id,
    () => void reload(),
  );

  return (
    <main className="page">
      <p className="crumbs">
        <a href={href({ page: "projects" })}>Projects</a>
        {loaded.data !== null ? (
          <>
            {" / "}
            <a href={href({ page: "project", id: loaded.data.app.projectId })}>{loaded.data.project.name}</a>
          </>
        ) : null}
      </p>
      <h1>{app?.name ?? "Application"}</h1>
      {loaded.problem !== null ? <Banner>{loaded.problem.detail}</Banner> : null}
      {app !== null ? <Operations api={api} token={token} app={app} onChanged={reload} /> : null}
      <nav className="tabs" aria-label="Application">
        {APP_TABS.map(([t, label]) => (
          <a key={t} href={href({ page: "application", id, tab: t })} aria-current={t === tab ? "page" : undefined}>
            {label}
          </a>
        ))}
      </nav>
      {app === null ? null : tab === "settings" ? (
        <SettingsTab api={api} app={app} onSaved={reload} />
      ) : tab === "env" ? (
        <EnvTab api={api} app={app} />
      ) : tab === "volumes" ? (
        <VolumesTab api={api} app={app} />
      ) : tab === "domains" ? (
        <DomainsTab api={api} app={app} />
      ) : tab === "access" ? (
        <AccessTab api={api} app={app} />
      ) : tab === "replicas" ? (
        <ReplicasTab api={api} token={token} app={app} />
      ) : (
        <Deployments api={api} token={token} app={app} onEnded={reload} />
      )}
    </main>
  );
}

/** Status, deploy, and start, stop, restart, scale and delete, each followed live to its end. */
function Operations(props: { api: Apis; token: string; app: ApplicationView; onChanged: () => Promise<void> }): JSX.Element {
  const { api, token, app, onChanged } = props;
  const id = app.id;
  const [replicas, setReplicas] = useState(String(app.replicas));
  const [problem, setProblem] = useState<Problem | null>(null);
  const [operation, setOperation] = useState<OperationView | null>(null);
  const [deleteVolumes, setDeleteVolumes] = useState(false);
  useEffect(() => setReplicas(String(app.replicas)), [app.replicas]);
  // Ends the stream of an operation still followed when the page goes away.
  const leaving = useRef<AbortController | null>(null);
  useEffect(() => {
    const controller = new AbortController();
    leaving.current = controller;
    return () => controller.abort();
  }, []);

  /** Asks for an operation, then follows it live until it ends, then reads the page again. */
  async function operate(kind: "start" | "stop" | "restart" | "delete" | "scale"): Promise<void> {
    setProblem(null);
    try {
      const op =
        kind === "delete"
          ? await api.applications.deleteApplication({ id, deleteVolumes })
          : kind === "scale"
            ? await api.applications.scale({ id, scaleRequest: { replicas: Number(replicas) } })
            : await api.applications[kind]({ id });
      setOperation(op);
      await follow(
        `/api/v1/operations/${op.id}/stream`,
        token,
        (e) => {
          if (e.event === "status" || e.event === "end") {
            setOperation(OperationViewFromJSON(e.data));
          }
        },
        leaving.current?.signal ?? new AbortController().signal,
      );
      if (kind === "delete") {
        window.location.hash = href({ page: "project", id: app.projectId });
        return;
      }
      await onChanged();
    } catch (e) {
      setProblem(await problemOf(e));
    }
  }

  /** A new deployment (`redeploy`: the newest successful build again, no clone or build). */
  async function deploy(again = false): Promise<void> {
    setProblem(null);
    try {
      const d = again
        ? await api.deployments.redeployApplication({ id })
        : await api.deployments.createDeployment({ id });
      window.location.hash = `${href({ page: "application", id })}?deployment=${d.id}`;
      await onChanged();
    } catch (e) {
      setProblem(await problemOf(e));
    }
  }

  return (
    <>
      {problem !== null ? <Banner>{problem.fields["replicas"] ? `Replicas ${problem.fields["replicas"]}` : problem.detail}</Banner> : null}
      <p className="summary">
        <span className={`status status-${app.status}`}>{app.status}</span> · {app.replicas} replica
        {app.replicas === 1 ? "" : "s"}{" "}
        <button type="button" className="primary" onClick={() => void deploy()}>
          Deploy
        </button>{" "}
        <button type="button" onClick={() => void deploy(true)}>
          Redeploy
        </button>
      </p>
      <p className="actions" aria-label="Operations">
        <button type="button" onClick={() => void operate("start")}>
          Start
        </button>
        <button type="button" onClick={() => void operate("stop")}>
          Stop
        </button>
        <button type="button" onClick={() => void operate("restart")}>
          Restart
        </button>
        <span className="scale">
          <label htmlFor="replicas">Replicas</label>
          <input
            id="replicas"
            type="number"
            min={0}
            max={100}
            value={replicas}
            onChange={(e) => setReplicas(e.target.value)}
            aria-invalid={problem?.fields["replicas"] ? true : undefined}
          />
          <button type="button" onClick={() => void operate("scale")}>
            Scale
          </button>
        </span>
        <Confirm
          label="Delete…"
          group="Confirm deletion"
          question={
            <>
              Delete {app.name}, its service and its images?{" "}
              <label>
                <input type="checkbox" checked={deleteVolumes} onChange={(e) => setDeleteVolumes(e.target.checked)} /> and its volumes with
                their data
              </label>
            </>
          }
          action="Delete for good"
          onConfirm={() => void operate("delete")}
        />
      </p>
      {operation !== null ? (
        <p className="operation" role="status">
          {operation.kind}: <span className={`status status-${operation.status}`}>{operation.status}</span>
          {operation.message ? ` · ${operation.message}` : null}
        </p>
      ) : null}
    </>
  );
}

/** The deployment the address names (`…?deployment=<id>`), to show its log. */
function chosenDeployment(): string | null {
  const m = /[?&]deployment=([0-9a-f-]{36})/.exec(window.location.hash);
  return m?.[1] ?? null;
}

function useChosenDeployment(): string | null {
  const [chosen, setChosen] = useState(chosenDeployment());
  useEffect(() => {
    const follow = (): void => setChosen(chosenDeployment());
    window.addEventListener("hashchange", follow);
    return () => window.removeEventListener("hashchange", follow);
  }, []);
  return chosen;
}

const ENDED = new Set(["success", "failed", "rolled_back", "cancelled"]);

function duration(d: DeploymentView): string {
  if (!d.startedAt) {
    return "";
  }
  const end = d.finishedAt ?? new Date();
  const s = Math.max(0, Math.round((end.getTime() - d.startedAt.getTime()) / 1000));
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}

/** The deployments, newest first: cancel one under way, roll back to an earlier success, follow a log. */
function Deployments(props: { api: Apis; token: string; app: ApplicationView; onEnded: () => Promise<void> }): JSX.Element {
  const { api, token, app, onEnded } = props;
  const chosen = useChosenDeployment();
  const list = useLoad(() => api.deployments.listDeployments({ id: app.id, limit: 50 }), [api, app.id, app.status, app.updatedAt]);
  const action = useAction();
  const deployments = list.data?.items ?? null;
  // Deployments queued, moving on and ending, whoever started them (a push, a teammate).
  useLive(
    (c) => c.kind === "deployment" && c.applicationId === app.id,
    () => void list.reload(),
  );
  const newestSuccess = deployments?.find((d) => d.status === "success")?.id;
  const choose = (id: string): void => {
    window.location.hash = `${href({ page: "application", id: app.id })}?deployment=${id}`;
  };

  async function act(run: () => Promise<DeploymentView>): Promise<void> {
    let started: DeploymentView | null = null;
    if (await action.run(async () => (started = await run()))) {
      await list.reload();
      if (started !== null) {
        choose((started as DeploymentView).id);
      }
    }
  }

  return (
    <>
      {action.problem !== null ? <Banner>{action.problem.detail}</Banner> : null}
      {list.problem !== null ? <Banner>{list.problem.detail}</Banner> : null}
      {deployments !== null && deployments.length > 1 ? <DurationsChart deployments={deployments} /> : null}
      <h2>Deployments</h2>
      {deployments === null ? null : deployments.length === 0 ? (
        <p className="empty">Not deployed yet.</p>
      ) : (
        <table className="projects" aria-label="Deployments">
          <TableHead columns={["Started", "Trigger", "Commit", "Took", "Status"]} hidden="Actions" />
          <tbody>
            {deployments.map((d) => (
              <tr key={d.id} aria-current={chosen === d.id ? "true" : undefined}>
                <th scope="row">{d.createdAt.toLocaleString()}</th>
                <td data-label="Trigger">{d.trigger}</td>
                <td data-label="Commit">{d.commitSha ? <code title={d.commitSha}>{d.commitSha.slice(0, 8)}</code> : "–"}</td>
                <td data-label="Took">{duration(d)}</td>
                <td data-label="Status">
                  <span className={`status status-${d.status}`}>{d.status}</span>
                  {d.message ? <span className="description">{d.message}</span> : null}
                </td>
                <td data-label="Actions" className="row-actions">
                  <button type="button" onClick={() => choose(d.id)} aria-pressed={chosen === d.id}>
                    Show log
                  </button>
                  {!ENDED.has(d.status) && !d.cancelRequested ? (
                    <button type="button" className="danger-outline" onClick={() => void act(() => api.deployments.cancelDeployment({ id: d.id }))}>
                      Cancel
                    </button>
                  ) : null}
                  {d.status === "success" && d.id !== newestSuccess ? (
                    <button type="button" onClick={() => void act(() => api.deployments.rollbackDeployment({ id: d.id }))}>
                      Roll back to this
                    </button>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {chosen !== null ? <DeploymentDetail key={chosen} api={api} token={token} id={chosen} onEnded={async () => {
        await list.reload();
        await onEnded();
      }} /> : null}
    </>
  );
}

/** A deployment's steps and its log, followed live until it ends. */
function DeploymentDetail(props: { api: Apis; token: string; id: string; onEnded: () => Promise<void> }): JSX.Element {
  const { api, token, id, onEnded } = props;
  const [detail, setDetail] = useState<DeploymentDetailView | null>(null);
  const read = useCallback(async (): Promise<void> => {
    try {
      setDetail(await api.deployments.getDeployment({ id }));
    } catch {
      setDetail(null);
    }
  }, [api, id]);
  useEffect(() => {
    void read();
  }, [read]);
  return (
    <>
      {detail !== null && detail.steps.length > 0 ? (
        <ol className="steps" aria-label="Steps">
          {detail.steps.map((s) => (
            <li key={s.name} className={`step step-${s.state}`}>
              <span className="step-name">{s.name}</span> <span className={`status status-${s.state}`}>{s.state}</span>
              {s.message ? <span className="description">{s.message}</span> : null}
            </li>
          ))}
        </ol>
      ) : null}
      <DeploymentLog
        token={token}
        id={id}
        onStep={() => void read()}
        onEnded={() => {
          void read();
          void onEnded();
        }}
      />
    </>
  );
}
