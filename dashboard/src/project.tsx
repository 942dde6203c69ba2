// One project: its applications (one call for the list) and a form to add one from an image
// or a git repository.
import { FormEvent, useCallback, useEffect, useState } from "react";
import type { ApplicationView, ProjectView, SourceInput } from "@api";

import { ProviderField, providerOf } from "./app-settings";
import { useLive } from "./live";
import { Apis, Problem, problemOf } from "./client";
import { Banner, Field, TableHead } from "./form";
import { cleared, fieldError, unshown, useAction, useLoad } from "./hooks";
import { href } from "./route";

export function ProjectPage(props: { api: Apis; id: string }): JSX.Element {
  const { api, id } = props;
  const [project, setProject] = useState<ProjectView | null>(null);
  const [apps, setApps] = useState<ApplicationView[] | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);

  const load = useCallback(async () => {
    try {
      const [p, page] = await Promise.all([
        api.projects.getProject({ id }),
        api.applications.listApplications({ id, limit: 100 }),
      ]);
      setProject(p);
      setApps(page.items);
      setProblem(null);
    } catch (e) {
      setProblem(await problemOf(e));
    }
  }, [api, id]);

  useEffect(() => {
    void load();
  }, [load]);
  // Statuses follow the applications' changes.
  useLive(
    (c) => c.kind === "application" && (apps ?? []).some((a) => a.id === c.applicationId),
    () => void load(),
  );

  return (
    <main className="page">
      <p className="crumbs">
        <a href={href({ page: "projects" })}>Projects</a>
      </p>
      <h1>{project?.name ?? "Project"}</h1>
      {project?.description ? <p className="description">{project.description}</p> : null}
      {problem !== null ? <Banner>{problem.detail}</Banner> : null}
      {apps === null ? (
        problem === null ? <p>Loading…</p> : null
      ) : apps.length === 0 ? (
        <p className="empty">No applications yet: add the first below.</p>
      ) : (
        <table className="projects" aria-label="Applications">
          <TableHead columns={["Name", "Source", "Status", "Replicas"]} />
          <tbody>
            {apps.map((a) => (
              <tr key={a.id}>
                <th scope="row">
                  <a href={href({ page: "application", id: a.id })}>{a.name}</a>
                </th>
                <td data-label="Source">{describeSource(a.source)}</td>
                <td data-label="Status">
                  <span className={`status status-${a.status}`}>{a.status}</span>
                </td>
                <td data-label="Replicas">{a.replicas}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {project !== null ? <CreateApplication api={api} projectId={project.id} onCreated={() => void load()} /> : null}
      {project !== null ? <ProjectSettings api={api} project={project} onSaved={() => void load()} /> : null}
    </main>
  );
}

/** The source as berth shows it: the image, or the repository and branch. */
function describeSource(source: object): string {
  const s = source as { type?: string; image?: string; repository?: string; branch?: string };
  if (s.type === "image" && s.image) {
    return s.image;
  }
  if (s.repository) {
    return s.branch ? `${s.repository} (${s.branch})` : s.repository;
  }
  return s.type ?? "";
}

function CreateApplication(props: { api: Apis; projectId: string; onCreated: () => void }): JSX.Element {
  const [kind, setKind] = useState<"image" | "git">("image");
  const [name, setName] = useState("");
  const [image, setImage] = useState("");
  const [command, setCommand] = useState("");
  const [repository, setRepository] = useState("");
  const [branch, setBranch] = useState("main");
  const [provider, setProvider] = useState("git");
  const [problem, setProblem] = useState<Problem | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent): Promise<void> {
    e.preventDefault();
    setBusy(true);
    setProblem(null);
    const source: SourceInput =
      kind === "image"
        ? { type: "image", image: image.trim() }
        : { type: "git", provider: providerOf(provider), repository: repository.trim(), branch: branch.trim() };
    const args = command.trim() === "" ? null : command.trim().split(/\s+/);
    const sent = { name: name.trim(), image: image.trim(), command: command.trim(), repository: repository.trim() };
    try {
      await props.api.applications.createApplication({
        id: props.projectId,
        applicationCreate: { name: sent.name, source, command: args },
      });
      setName(cleared(sent.name));
      setImage(cleared(sent.image));
      setCommand(cleared(sent.command));
      setRepository(cleared(sent.repository));
      props.onCreated();
    } catch (err) {
      setProblem(await problemOf(err));
    } finally {
      setBusy(false);
    }
  }

  const fields = problem?.fields ?? {};
  const nameError = fields["name"] ?? (problem?.code === "name_taken" ? problem.detail : undefined);
  const shown = new Set(["name", "source.image", "source.repository", "source.branch", "source", "command"]);
  const other = problem !== null && nameError === undefined && !Object.keys(fields).some((f) => shown.has(f));
  return (
    <form className="card" onSubmit={(e) => void submit(e)} aria-labelledby="create-app-title">
      <h2 id="create-app-title">New application</h2>
      {other && problem !== null ? <Banner>{problem.detail}</Banner> : null}
      <Field id="app-name" label="Name" value={name} onChange={setName} error={nameError} hint="Lowercase letters, digits and '-', like web or api-2." />
      <fieldset className="choice">
        <legend>Source</legend>
        <label>
          <input type="radio" name="source-kind" checked={kind === "image"} onChange={() => setKind("image")} /> An image
        </label>
        <label>
          <input type="radio" name="source-kind" checked={kind === "git"} onChange={() => setKind("git")} /> A git repository
        </label>
      </fieldset>
      {kind === "image" ? (
        <Field id="app-image" label="Image" value={image} onChange={setImage} error={fields["source.image"] ?? fields["source"]} hint="Like registry.example.com/team/app:1.2" />
      ) : (
        <>
          <ProviderField id="app-provider" value={provider} onChange={setProvider} />
          <Field id="app-repository" label="Repository URL" value={repository} onChange={setRepository} error={fields["source.repository"] ?? fields["source"]} />
          <Field id="app-branch" label="Branch" value={branch} onChange={setBranch} error={fields["source.branch"]} />
        </>
      )}
      <Field
        id="app-command"
        label="Command (optional)"
        value={command}
        onChange={setCommand}
        error={fields["command"]}
        hint="The program and its arguments, separated by spaces; run as is, with no shell. Empty: the image's own."
      />
      <button type="submit" className="primary" disabled={busy}>
        Create application
      </button>
    </form>
  );
}

/** The project's name, description and team; and deleting it, once its name is typed. */
function ProjectSettings(props: { api: Apis; project: ProjectView; onSaved: () => void }): JSX.Element {
  const { api, project } = props;
  const teams = useLoad(() => api.teams.listTeams({ limit: 100 }), [api]);
  const [name, setName] = useState(project.name);
  const [description, setDescription] = useState(project.description ?? "");
  const [team, setTeam] = useState(project.teamId ?? "");
  const [confirm, setConfirm] = useState("");
  const action = useAction();

  async function save(e: FormEvent): Promise<void> {
    e.preventDefault();
    const teamChanged = team !== (project.teamId ?? "");
    const projectUpdate = {
      name: name.trim(),
      description: description.trim(),
      teamId: teamChanged ? (team === "" ? null : team) : undefined,
    };
    if (await action.run(() => api.projects.updateProject({ id: project.id, projectUpdate }))) {
      props.onSaved();
    }
  }

  async function remove(e: FormEvent): Promise<void> {
    e.preventDefault();
    if (await action.run(() => api.projects.deleteProject({ id: project.id }))) {
      window.location.hash = href({ page: "projects" });
    }
  }

  const p = action.problem;
  const nameError = fieldError(p, "name") ?? (p?.code === "name_taken" ? p.detail : undefined);
  const other = nameError === undefined ? unshown(p, ["name", "description", "team_id"]) : null;
  return (
    <section className="card" aria-labelledby="project-settings-title">
      <h2 id="project-settings-title">Project settings</h2>
      {other !== null ? <Banner>{other.detail}</Banner> : null}
      <form onSubmit={(e) => void save(e)}>
        <Field id="project-rename" label="Project name" value={name} onChange={setName} error={nameError} />
        <Field id="project-description" label="Project description" value={description} onChange={setDescription} error={fieldError(p, "description")} />
        <div className="field">
          <label htmlFor="project-team">Team</label>
          <select id="project-team" value={team} onChange={(e) => setTeam(e.target.value)} aria-describedby="project-team-hint">
            <option value="">None: only its owner (and admins)</option>
            {(teams.data?.items ?? []).map((t) => (
              <option key={t.id} value={t.id}>
                {t.name}
              </option>
            ))}
          </select>
          <p className="hint" id="project-team-hint">
            The team's members reach it by their team role. Only its owner moves it.
          </p>
          {fieldError(p, "team_id") ? <p className="field-error">{fieldError(p, "team_id")}</p> : null}
        </div>
        <button type="submit" className="primary" disabled={action.busy}>
          Save
        </button>
      </form>
      <form className="danger-zone" onSubmit={(e) => void remove(e)}>
        <Field
          id="project-delete-confirm"
          label={`Type ${project.name} to delete the project`}
          value={confirm}
          onChange={setConfirm}
          autoComplete="off"
          hint="Refused while it has applications: delete them first."
        />
        <button type="submit" className="danger" disabled={confirm !== project.name || action.busy}>
          Delete the project
        </button>
      </form>
    </section>
  );
}
