// How things outside berth deploy the application: the git host's push webhook (its URL, its
// secret shown once, how to set it up on each host) and service tokens for CI jobs.
import { FormEvent, useState } from "react";
import type { ApplicationView, CreatedServiceToken, WebhookView } from "@api";

import { Apis } from "./client";
import { Banner, Field, TableHead } from "./form";
import { cleared, fieldError, unshown, useAction, useLoad } from "./hooks";

/** Where each git host keeps its webhooks, and what to fill in there. */
const SETUP: Record<string, string> = {
  github: "GitHub: the repository's Settings → Webhooks → Add webhook. Payload URL: the URL; content type: application/json; secret: the secret; events: just the push event.",
  gitlab: "GitLab: the project's Settings → Webhooks → Add new webhook. URL: the URL; secret token: the secret; trigger: push events.",
  gitea: "Gitea or Forgejo: the repository's Settings → Webhooks → Add webhook → Gitea. Target URL: the URL; content type: application/json; secret: the secret; trigger: push events.",
  bitbucket: "Bitbucket: the repository's Repository settings → Webhooks → Add webhook. URL: the URL; secret: the secret; triggers: repository push.",
};

export function AccessTab(props: { api: Apis; app: ApplicationView }): JSX.Element {
  const { api, app } = props;
  const source = app.source as { type?: string; provider?: string };
  return (
    <>
      {source.type === "git" && source.provider !== "git" ? <Webhook api={api} app={app} /> : null}
      {source.type === "git" && source.provider === "git" ? (
        <p className="hint">This repository's git server sends no webhook berth understands: let its CI deploy with a service token, below.</p>
      ) : null}
      <ServiceTokens api={api} app={app} />
    </>
  );
}

function Webhook(props: { api: Apis; app: ApplicationView }): JSX.Element {
  const { api, app } = props;
  const hook = useLoad(() => api.applications.getWebhook({ id: app.id }), [api, app.id]);
  const [rotated, setRotated] = useState<WebhookView | null>(null);
  const action = useAction();
  const shown = rotated ?? hook.data;
  return (
    <section className="card wide" aria-labelledby="webhook-title">
      <h2 id="webhook-title">Push webhook</h2>
      {hook.problem !== null ? <Banner>{hook.problem.detail}</Banner> : null}
      {action.problem !== null ? <Banner>{action.problem.detail}</Banner> : null}
      {shown === null ? null : (
        <>
          <p>
            URL: <code className="token" aria-label="Webhook URL">{shown.url}</code>
          </p>
          <p className="hint">Content type: {shown.contentType}</p>
          {shown.secret ? (
            <div className="card secret wide">
              <p>The secret, shown this once: set it on the git host now.</p>
              <code className="token" aria-label="The webhook secret">
                {shown.secret}
              </code>
            </div>
          ) : (
            <p className="hint">The secret was shown when it was made; make a new one if it is lost (the old one stops working).</p>
          )}
          <p className="hint">{SETUP[shown.provider] ?? ""}</p>
          <button
            type="button"
            onClick={() => void action.run(async () => setRotated(await api.applications.rotateWebhook({ id: app.id })))}
            disabled={action.busy}
          >
            Make a new secret
          </button>
        </>
      )}
    </section>
  );
}

function ServiceTokens(props: { api: Apis; app: ApplicationView }): JSX.Element {
  const { api, app } = props;
  const tokens = useLoad(() => api.applications.listServiceTokens({ id: app.id }), [api, app.id]);
  const action = useAction();
  const [name, setName] = useState("");
  const [origin, setOrigin] = useState("ci");
  const [made, setMade] = useState<CreatedServiceToken | null>(null);

  async function create(e: FormEvent): Promise<void> {
    e.preventDefault();
    let created: CreatedServiceToken | null = null;
    const sent = name.trim();
    const ok = await action.run(async () => {
      created = await api.applications.createServiceToken({ id: app.id, serviceTokenCreate: { name: sent, origin: origin.trim() } });
    });
    if (ok) {
      setMade(created);
      setName(cleared(sent));
      await tokens.reload();
    }
  }

  async function revoke(id: string): Promise<void> {
    if (await action.run(() => api.applications.deleteServiceToken({ id }))) {
      if (made?.id === id) {
        setMade(null);
      }
      await tokens.reload();
    }
  }

  const p = action.problem;
  const other = unshown(p, ["name", "origin"]);
  return (
    <section aria-labelledby="service-tokens-title">
      <h2 id="service-tokens-title">Service tokens</h2>
      <p className="hint">
        A service token deploys this application and nothing else: <code>POST /api/v1/applications/{app.id}/deployments</code> with{" "}
        <code>Authorization: Bearer &lt;token&gt;</code>.
      </p>
      {other !== null ? <Banner>{other.detail}</Banner> : null}
      {made !== null ? (
        <div className="card secret wide">
          <p>The token {made.name}, shown this once:</p>
          <code className="token" aria-label="The new service token">
            {made.token}
          </code>
        </div>
      ) : null}
      {tokens.data === null ? null : tokens.data.length === 0 ? (
        <p className="empty">No service tokens.</p>
      ) : (
        <table className="projects" aria-label="Service tokens">
          <TableHead columns={["Name", "Used by", "Last used"]} hidden="Revoke" />
          <tbody>
            {tokens.data.map((t) => (
              <tr key={t.id}>
                <th scope="row">{t.name}</th>
                <td data-label="Used by">{t.origin}</td>
                <td data-label="Last used">{t.revokedAt ? `revoked ${t.revokedAt.toLocaleString()}` : t.lastUsedAt ? t.lastUsedAt.toLocaleString() : "never"}</td>
                <td>
                  {t.revokedAt ? null : (
                    <button type="button" className="danger-outline" aria-label={`Revoke ${t.name}`} onClick={() => void revoke(t.id)}>
                      Revoke
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form className="card" onSubmit={(e) => void create(e)} aria-labelledby="service-token-form-title">
        <h3 id="service-token-form-title">New service token</h3>
        <Field id="st-name" label="Name" value={name} onChange={setName} error={fieldError(p, "name")} autoComplete="off" />
        <Field id="st-origin" label="Used by" value={origin} onChange={setOrigin} error={fieldError(p, "origin")} hint="Like github-actions or gitlab-ci." />
        <button type="submit" className="primary" disabled={action.busy}>
          Make the token
        </button>
      </form>
    </section>
  );
}
