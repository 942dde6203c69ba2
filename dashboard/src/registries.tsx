// Registries berth pulls images from with credentials: the installation's (admins change
// them; everyone sees them) and the caller's teams' (their owners and admins change them).
// A password is sent, never shown again.
import { FormEvent, useState } from "react";
import type { RegistryView } from "@api";

import { Apis } from "./client";
import { Banner, Field, TableHead } from "./form";
import { fieldError, unshown, useAction, useLoad } from "./hooks";

export function RegistriesPage(props: { api: Apis; admin: boolean }): JSX.Element {
  const { api, admin } = props;
  const registries = useLoad(() => api.registries.listRegistries(), [api]);
  const teams = useLoad(() => api.teams.listTeams({ limit: 100 }), [api]);
  const add = useAction();
  const change = useAction();
  const [host, setHost] = useState("");
  const [owner, setOwner] = useState(admin ? "" : "?");
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [editing, setEditing] = useState<RegistryView | null>(null);
  const [newUser, setNewUser] = useState("");
  const [newPassword, setNewPassword] = useState("");

  const teamName = (id: string | null | undefined): string =>
    id ? (teams.data?.items.find((t) => t.id === id)?.name ?? "a team") : "the installation";

  async function create(e: FormEvent): Promise<void> {
    e.preventDefault();
    const credentials = username === "" && password === "" ? undefined : { username, password };
    const registryCreate = { host: host.trim(), teamId: owner === "" || owner === "?" ? undefined : owner, credentials };
    if (await add.run(() => api.registries.createRegistry({ registryCreate }))) {
      setHost("");
      setUsername("");
      setPassword("");
      await registries.reload();
    }
  }

  async function saveCredentials(e: FormEvent): Promise<void> {
    e.preventDefault();
    if (editing === null) {
      return;
    }
    const credentials = newUser === "" && newPassword === "" ? null : { username: newUser, password: newPassword };
    if (await change.run(() => api.registries.updateRegistry({ id: editing.id, registryUpdate: { credentials } }))) {
      setEditing(null);
      setNewPassword("");
      await registries.reload();
    }
  }

  async function remove(r: RegistryView): Promise<void> {
    if (await change.run(() => api.registries.deleteRegistry({ id: r.id }))) {
      if (editing?.id === r.id) {
        setEditing(null);
      }
      await registries.reload();
    }
  }

  const p = add.problem;
  const other = unshown(p, ["host", "credentials", "team_id"]);
  const c = change.problem;
  const list = registries.data;
  return (
    <main className="page">
      <h1>Registries</h1>
      <p className="hint">
        berth pulls an application's image with its team's credentials for the image's registry, else the installation's, else
        anonymously. An image of a registry berth holds credentials for is pulled at every deployment, so the registry decides who
        runs it.
      </p>
      {registries.problem !== null ? <Banner>{registries.problem.detail}</Banner> : null}
      {c !== null && editing === null ? <Banner>{c.detail}</Banner> : null}
      {list === null ? null : list.length === 0 ? (
        <p className="empty">No registries yet: images are pulled anonymously.</p>
      ) : (
        <table className="projects" aria-label="Registries">
          <TableHead columns={["Registry", "For", "User"]} hidden="Actions" />
          <tbody>
            {list.map((r) => (
              <tr key={r.id}>
                <th scope="row">
                  <code>{r.host}</code>
                </th>
                <td data-label="For">{r.teamId ? `the team ${teamName(r.teamId)}` : "every project (the installation's)"}</td>
                <td data-label="User">{r.username ?? "anonymous"}</td>
                <td>
                  <button
                    type="button"
                    onClick={() => {
                      change.clear();
                      setEditing(r);
                      setNewUser(r.username ?? "");
                      setNewPassword("");
                    }}
                    aria-label={`Change the credentials of ${r.host} for ${teamName(r.teamId)}`}
                  >
                    Credentials
                  </button>{" "}
                  <button type="button" className="danger-outline" onClick={() => void remove(r)} aria-label={`Remove ${r.host} for ${teamName(r.teamId)}`}>
                    Remove
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {editing !== null ? (
        <form className="card" onSubmit={(e) => void saveCredentials(e)} aria-labelledby="credentials-title">
          <h2 id="credentials-title">
            Credentials for <code>{editing.host}</code>
          </h2>
          {unshown(c, ["credentials"]) !== null ? <Banner>{c?.detail}</Banner> : null}
          <Field id="registry-new-user" label="User" autoComplete="username" value={newUser} onChange={setNewUser} error={fieldError(c, "credentials.username")} />
          <Field
            id="registry-new-password"
            label="Password or token"
            type="password"
            autoComplete="new-password"
            value={newPassword}
            onChange={setNewPassword}
            error={fieldError(c, "credentials.password")}
            hint="Replaces the stored one, which is never shown. Both empty: pull anonymously."
          />
          <button type="submit" className="primary" disabled={change.busy}>
            Save
          </button>{" "}
          <button type="button" onClick={() => setEditing(null)}>
            Cancel
          </button>
        </form>
      ) : null}
      <form className="card" onSubmit={(e) => void create(e)} aria-labelledby="new-registry-title">
        <h2 id="new-registry-title">Add a registry</h2>
        {other !== null ? <Banner>{other.detail}</Banner> : null}
        <Field id="registry-host" label="Registry" value={host} onChange={setHost} error={fieldError(p, "host")} hint="As images name it: ghcr.io, registry.example.com:5000, docker.io." />
        <div className="field">
          <label htmlFor="registry-owner">For</label>
          <select id="registry-owner" value={owner} onChange={(e) => setOwner(e.target.value)}>
            {admin ? <option value="">Every project (the installation's)</option> : <option value="?">Choose a team</option>}
            {(teams.data?.items ?? []).map((t) => (
              <option key={t.id} value={t.id}>
                The team {t.name}
              </option>
            ))}
          </select>
          {fieldError(p, "team_id") ? <p className="field-error">{fieldError(p, "team_id")}</p> : null}
        </div>
        <Field id="registry-user" label="User" autoComplete="username" value={username} onChange={setUsername} error={fieldError(p, "credentials.username")} />
        <Field
          id="registry-password"
          label="Password or token"
          type="password"
          autoComplete="new-password"
          value={password}
          onChange={setPassword}
          error={fieldError(p, "credentials.password")}
          hint="Kept encrypted and never shown again. Leave both empty for a registry pulled anonymously (admins list one so it may be named by its address)."
        />
        <button type="submit" className="primary" disabled={add.busy}>
          Add the registry
        </button>
      </form>
    </main>
  );
}
