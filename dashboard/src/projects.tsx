// The projects the caller reaches, with their applications counted by status, and a form to
// create one. One API call lists the page (the counts come with it), none per row.
import { FormEvent, useCallback, useEffect, useState } from "react";
import type { ProjectView } from "@api";

import { useLive } from "./live";
import { Apis, Problem, problemOf } from "./client";
import { Banner, Field, TableHead } from "./form";
import { href } from "./route";
import { cleared } from "./hooks";

export function Projects(props: { api: Apis }): JSX.Element {
  const { api } = props;
  const [projects, setProjects] = useState<ProjectView[] | null>(null);
  const [total, setTotal] = useState(0);
  const [loadProblem, setLoadProblem] = useState<Problem | null>(null);

  const load = useCallback(async () => {
    try {
      const page = await api.projects.listProjects({ limit: 100 });
      setProjects(page.items);
      setTotal(page.total);
      setLoadProblem(null);
    } catch (e) {
      setLoadProblem(await problemOf(e));
    }
  }, [api]);

  useEffect(() => {
    void load();
  }, [load]);
  // The counts by status follow the applications' changes.
  useLive(
    (c) => c.kind === "application",
    () => void load(),
  );

  return (
    <main className="page">
      <h1>Projects</h1>
      {loadProblem !== null ? <Banner>{loadProblem.detail}</Banner> : null}
      {projects === null ? (
        <p>Loading…</p>
      ) : projects.length === 0 ? (
        <p className="empty">No projects yet: create the first below.</p>
      ) : (
        <table className="projects" aria-label="Projects">
          <TableHead columns={["Name", "Applications", "Running", "Stopped", "Failed", "Created"]} />
          <tbody>
            {projects.map((p) => (
              <tr key={p.id}>
                <th scope="row">
                  <a href={href({ page: "project", id: p.id })}>{p.name}</a>
                  {p.description ? <span className="description">{p.description}</span> : null}
                </th>
                <td data-label="Applications">{p.applications.total}</td>
                <td data-label="Running">{p.applications.running}</td>
                <td data-label="Stopped">{p.applications.stopped}</td>
                <td data-label="Failed" className={p.applications.failed > 0 ? "failed" : undefined}>
                  {p.applications.failed}
                </td>
                <td data-label="Created">{p.createdAt.toLocaleDateString()}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {projects !== null && total > projects.length ? (
        <p className="hint">Showing {projects.length} of {total}.</p>
      ) : null}
      <CreateProject api={api} onCreated={() => void load()} />
    </main>
  );
}

function CreateProject(props: { api: Apis; onCreated: () => void }): JSX.Element {
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [problem, setProblem] = useState<Problem | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent): Promise<void> {
    e.preventDefault();
    setBusy(true);
    setProblem(null);
    try {
      const sent = { name: name.trim(), description: description.trim() };
      await props.api.projects.createProject({
        projectCreate: { name: sent.name, description: sent.description || null },
      });
      setName(cleared(sent.name));
      setDescription(cleared(sent.description));
      props.onCreated();
    } catch (err) {
      setProblem(await problemOf(err));
    } finally {
      setBusy(false);
    }
  }

  const fields = problem?.fields ?? {};
  // A taken name is about the name field, though berth answers it as a conflict (409).
  const nameError = fields["name"] ?? (problem?.code === "name_taken" ? problem.detail : undefined);
  return (
    <form className="card" onSubmit={(e) => void submit(e)} aria-labelledby="create-title">
      <h2 id="create-title">New project</h2>
      {problem !== null && nameError === undefined && Object.keys(fields).length === 0 ? (
        <Banner>{problem.detail}</Banner>
      ) : null}
      <Field id="project-name" label="Name" value={name} onChange={setName} error={nameError} hint="3 to 100 characters." />
      <Field
        id="project-description"
        label="Description (optional)"
        value={description}
        onChange={setDescription}
        error={fields["description"]}
      />
      <button type="submit" className="primary" disabled={busy}>
        Create project
      </button>
    </form>
  );
}
