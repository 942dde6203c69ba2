// One application: what it is, a button that deploys it, its deployments, and the log of the
// one chosen followed live until it ends.
import { useCallback, useEffect, useRef, useState } from "react";
import { LogLineViewFromJSON, OperationViewFromJSON } from "@api";
import type { ApplicationView, DeploymentView, LogLineView, OperationView, ProjectView } from "@api";

import { Apis, Problem, problemOf } from "./client";
import { Banner } from "./form";
import { href } from "./route";
import { follow } from "./stream";

export function ApplicationPage(props: { api: Apis; token: string; id: string }): JSX.Element {
  const { api, token, id } = props;
  const [app, setApp] = useState<ApplicationView | null>(null);
  const [project, setProject] = useState<ProjectView | null>(null);
  const [replicas, setReplicas] = useState("");
  const [deployments, setDeployments] = useState<DeploymentView[] | null>(null);
  const [watching, setWatching] = useState<string | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);

  const load = useCallback(async () => {
    try {
      const [a, page] = await Promise.all([
        api.applications.getApplication({ id }),
        api.deployments.listDeployments({ id, limit: 20 }),
      ]);
      setApp(a);
      setReplicas(String(a.replicas));
      setDeployments(page.items);
      setProject(await api.projects.getProject({ id: a.projectId }));
      setProblem(null);
    } catch (e) {
      setProblem(await problemOf(e));
    }
  }, [api, id]);

  useEffect(() => {
    void load();
  }, [load]);

  const [operation, setOperation] = useState<OperationView | null>(null);
  // Ends the stream of an operation still followed when the page goes away.
  const leaving = useRef<AbortController | null>(null);
  useEffect(() => {
    const controller = new AbortController();
    leaving.current = controller;
    return () => controller.abort();
  }, []);
  const [confirmDelete, setConfirmDelete] = useState(false);

  /** Asks for an operation, then follows it live until it ends, then reads the page again. */
  async function operate(kind: "start" | "stop" | "restart" | "delete" | "scale"): Promise<void> {
    setProblem(null);
    setConfirmDelete(false);
    try {
      const op =
        kind === "delete"
          ? await api.applications.deleteApplication({ id })
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
        window.location.hash = app !== null ? href({ page: "project", id: app.projectId }) : "#/";
        return;
      }
      await load();
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
      setWatching(d.id);
      await load();
    } catch (e) {
      setProblem(await problemOf(e));
    }
  }

  return (
    <main className="page">
      <p className="crumbs">
        <a href={href({ page: "projects" })}>Projects</a>
        {app !== null ? (
          <>
            {" / "}
            <a href={href({ page: "project", id: app.projectId })}>{project?.name ?? "project"}</a>
          </>
        ) : null}
      </p>
      <h1>{app?.name ?? "Application"}</h1>
      {problem !== null ? <Banner>{problem.fields["replicas"] ? `Replicas ${problem.fields["replicas"]}` : problem.detail}</Banner> : null}
      {app !== null ? (
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
      ) : null}
      {app !== null ? (
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
          {confirmDelete ? (
            <span className="confirm" role="group" aria-label="Confirm deletion">
              Delete {app.name}, its service and its images?{" "}
              <button type="button" className="danger" onClick={() => void operate("delete")}>
                Delete for good
              </button>{" "}
              <button type="button" onClick={() => setConfirmDelete(false)}>
                Keep it
              </button>
            </span>
          ) : (
            <button type="button" className="danger-outline" onClick={() => setConfirmDelete(true)}>
              Delete…
            </button>
          )}
        </p>
      ) : null}
      {operation !== null ? (
        <p className="operation" role="status">
          {operation.kind}: <span className={`status status-${operation.status}`}>{operation.status}</span>
          {operation.message ? ` · ${operation.message}` : null}
        </p>
      ) : null}
      <h2>Deployments</h2>
      {deployments === null ? null : deployments.length === 0 ? (
        <p className="empty">Not deployed yet.</p>
      ) : (
        <table className="projects" aria-label="Deployments">
          <thead>
            <tr>
              <th scope="col">Started</th>
              <th scope="col">Trigger</th>
              <th scope="col">Status</th>
              <th scope="col">Log</th>
            </tr>
          </thead>
          <tbody>
            {deployments.map((d) => (
              <tr key={d.id}>
                <th scope="row">{d.createdAt.toLocaleString()}</th>
                <td data-label="Trigger">{d.trigger}</td>
                <td data-label="Status">
                  <span className={`status status-${d.status}`}>{d.status}</span>
                  {d.message ? <span className="description">{d.message}</span> : null}
                </td>
                <td data-label="Log">
                  <button type="button" onClick={() => setWatching(d.id)} aria-pressed={watching === d.id}>
                    Show log
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {watching !== null ? (
        <DeploymentLog key={watching} token={token} id={watching} onEnded={() => void load()} />
      ) : null}
    </main>
  );
}

/** A deployment's log, followed live: every stored line, then each new one, until it ends. */
function DeploymentLog(props: { token: string; id: string; onEnded: () => void }): JSX.Element {
  const { token, id, onEnded } = props;
  const [lines, setLines] = useState<LogLineView[]>([]);
  const [status, setStatus] = useState<string | null>(null);
  const [ended, setEnded] = useState(false);
  const [failure, setFailure] = useState<string | null>(null);
  const onEndedRef = useRef(onEnded);
  onEndedRef.current = onEnded;

  useEffect(() => {
    const abort = new AbortController();
    follow(
      `/api/v1/deployments/${id}/logs/stream`,
      token,
      (e) => {
        if (e.event === "log") {
          setLines((ls) => [...ls, LogLineViewFromJSON(e.data)]);
        } else if (e.event === "status" || e.event === "end") {
          setStatus((e.data as { status: string }).status);
          if (e.event === "end") {
            setEnded(true);
            onEndedRef.current();
          }
        }
      },
      abort.signal,
    ).catch((err: unknown) => {
      if (!abort.signal.aborted) {
        setFailure(err instanceof Error ? err.message : String(err));
      }
    });
    return () => abort.abort();
  }, [id, token]);

  return (
    <section className="card wide" aria-labelledby="log-title">
      <h2 id="log-title">
        Log {status !== null ? <span className={`status status-${status}`}>{status}</span> : null}
        {ended ? null : <span className="live"> live</span>}
      </h2>
      {failure !== null ? <Banner>{failure}</Banner> : null}
      <pre className="log" aria-live="polite" aria-label="Deployment log">
        {lines.map((l) => (
          <span key={l.seq} className={`line level-${l.level}`}>
            {l.step ? `[${l.step}] ` : ""}
            {l.message}
            {"\n"}
          </span>
        ))}
      </pre>
    </section>
  );
}
