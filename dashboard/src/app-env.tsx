// An application's environment: variables listed (a secret's value never), set (a secret is
// write-only from then on) and removed. Applied at the next deployment.
import { FormEvent, useState } from "react";
import type { ApplicationView } from "@api";

import { Apis } from "./client";
import { Banner, Field, TableHead } from "./form";
import { cleared, fieldError, unshown, useAction, useLoad } from "./hooks";

export function EnvTab(props: { api: Apis; app: ApplicationView }): JSX.Element {
  const { api, app } = props;
  const env = useLoad(() => api.applications.listEnv({ id: app.id }), [api, app.id]);
  const action = useAction();
  const [key, setKey] = useState("");
  const [value, setValue] = useState("");
  const [secret, setSecret] = useState(false);

  const [missing, setMissing] = useState(false);

  async function set(e: FormEvent): Promise<void> {
    e.preventDefault();
    const sent = key.trim();
    // The name is part of the address: without one there is nothing to ask berth.
    setMissing(sent === "");
    if (sent === "") {
      return;
    }
    if (await action.run(() => api.applications.setEnv({ id: app.id, key: sent, envSet: { value, isSecret: secret } }))) {
      setKey(cleared(sent));
      setValue(cleared(value));
      setSecret(false);
      await env.reload();
    }
  }

  async function remove(k: string): Promise<void> {
    if (await action.run(() => api.applications.deleteEnv({ id: app.id, key: k }))) {
      await env.reload();
    }
  }

  const p = action.problem;
  const other = unshown(p, ["key", "value"]);
  return (
    <>
      {other !== null ? <Banner>{other.detail}</Banner> : null}
      {env.problem !== null ? <Banner>{env.problem.detail}</Banner> : null}
      <p className="hint">Variables reach the application's containers from its next deployment.</p>
      {env.data === null ? null : env.data.length === 0 ? (
        <p className="empty">No variables yet.</p>
      ) : (
        <table className="projects" aria-label="Environment variables">
          <TableHead columns={["Name", "Value", "Changed"]} hidden="Remove" />
          <tbody>
            {env.data.map((v) => (
              <tr key={v.key}>
                <th scope="row">
                  <code>{v.key}</code>
                </th>
                <td data-label="Value">{v.isSecret ? <span className="secret-value">secret (write-only)</span> : <code>{v.value}</code>}</td>
                <td data-label="Changed">{v.updatedAt.toLocaleString()}</td>
                <td>
                  <button type="button" className="danger-outline" aria-label={`Remove ${v.key}`} onClick={() => void remove(v.key)}>
                    Remove
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form className="card" onSubmit={(e) => void set(e)} aria-labelledby="env-title">
        <h2 id="env-title">Set a variable</h2>
        <Field id="env-key" label="Name" value={key} onChange={setKey} error={missing ? "is required" : fieldError(p, "key")} hint="Letters, digits and _, not starting with a digit; setting one that exists replaces it." autoComplete="off" />
        <Field id="env-value" label="Value" type={secret ? "password" : "text"} value={value} onChange={setValue} error={fieldError(p, "value")} autoComplete="off" />
        <label className="check">
          <input type="checkbox" checked={secret} onChange={(e) => setSecret(e.target.checked)} /> Secret: encrypted, never shown again
        </label>
        <button type="submit" className="primary" disabled={action.busy}>
          Set
        </button>
      </form>
    </>
  );
}
