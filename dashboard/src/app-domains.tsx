// An application's domains: each with its routing, its certificate (who issued it, when it
// expires, how ordering the next one goes) and the requests the router answered; added,
// changed, renewed, given an uploaded certificate, removed.
import { FormEvent, useState } from "react";
import type { ApplicationView, DomainRoutingInput, DomainView } from "@api";
import { DomainRoutingInputWwwRedirectEnum } from "@api";

import { Apis } from "./client";
import { Banner, Confirm, Field, TableHead } from "./form";
import { Action, cleared, enumValue, fieldError, unshown, useAction, useLoad } from "./hooks";

interface RoutingForm {
  tls: boolean;
  pathPrefix: string;
  port: string;
  httpsRedirect: boolean;
  hsts: boolean;
  wwwRedirect: string;
  maxBodyMb: string;
  authUser: string;
  authPassword: string;
}

function formOf(d: DomainView | null): RoutingForm {
  return {
    tls: d?.tls ?? true,
    pathPrefix: d?.routing.pathPrefix ?? "/",
    port: d?.routing.port === null || d?.routing.port === undefined ? "" : String(d.routing.port),
    httpsRedirect: d?.routing.httpsRedirect ?? true,
    hsts: d?.routing.hsts ?? false,
    wwwRedirect: d?.routing.wwwRedirect ?? "none",
    maxBodyMb: String(d?.routing.maxBodyMb ?? 100),
    authUser: d?.routing.basicAuthUsers[0] ?? "",
    authPassword: "",
  };
}

function routingOf(f: RoutingForm): DomainRoutingInput {
  const user = f.authUser.trim();
  return {
    pathPrefix: f.pathPrefix.trim(),
    port: f.port.trim() === "" ? null : Number(f.port),
    httpsRedirect: f.httpsRedirect,
    hsts: f.hsts,
    wwwRedirect: enumValue(DomainRoutingInputWwwRedirectEnum, f.wwwRedirect, DomainRoutingInputWwwRedirectEnum.None),
    maxBodyMb: Number(f.maxBodyMb),
    basicAuth: user === "" ? [] : [{ username: user, password: f.authPassword === "" ? null : f.authPassword }],
  };
}

/** The routing fields, for a new domain and for one being changed. */
function RoutingFields(props: { id: string; form: RoutingForm; set: (f: RoutingForm) => void; action: Action }): JSX.Element {
  const { id, form, set } = props;
  const p = props.action.problem;
  return (
    <div className="grid">
      <label className="check">
        <input type="checkbox" checked={form.tls} onChange={(e) => set({ ...form, tls: e.target.checked })} /> HTTPS with a certificate
      </label>
      <label className="check">
        <input type="checkbox" checked={form.httpsRedirect} onChange={(e) => set({ ...form, httpsRedirect: e.target.checked })} /> Redirect HTTP to HTTPS
      </label>
      <label className="check">
        <input type="checkbox" checked={form.hsts} onChange={(e) => set({ ...form, hsts: e.target.checked })} /> HSTS (browsers remember HTTPS for a year)
      </label>
      <Field id={`${id}-prefix`} label="Path prefix" value={form.pathPrefix} onChange={(v) => set({ ...form, pathPrefix: v })} error={fieldError(p, "routing.path_prefix")} />
      <Field id={`${id}-port`} label="Container port" type="number" value={form.port} onChange={(v) => set({ ...form, port: v })} error={fieldError(p, "routing.port")} hint="Empty: the application's first port, else 80." />
      <div className="field">
        <label htmlFor={`${id}-www`}>www redirect</label>
        <select id={`${id}-www`} value={form.wwwRedirect} onChange={(e) => set({ ...form, wwwRedirect: e.target.value })}>
          <option value="none">none</option>
          <option value="to_apex">www. redirects to this domain</option>
          <option value="to_www">this is www.; the bare domain redirects here</option>
        </select>
        {fieldError(p, "routing.www_redirect") ? <p className="field-error">{fieldError(p, "routing.www_redirect")}</p> : null}
      </div>
      <Field id={`${id}-body`} label="Largest request body (MiB)" type="number" value={form.maxBodyMb} onChange={(v) => set({ ...form, maxBodyMb: v })} error={fieldError(p, "routing.max_body_mb")} />
      <Field id={`${id}-auth-user`} label="Basic auth user (optional)" value={form.authUser} onChange={(v) => set({ ...form, authUser: v })} error={fieldError(p, "routing.basic_auth.0.username")} autoComplete="off" />
      <Field id={`${id}-auth-password`} label="Basic auth password" type="password" value={form.authPassword} onChange={(v) => set({ ...form, authPassword: v })} error={fieldError(p, "routing.basic_auth.0.password")} autoComplete="off" hint="Write-only; empty keeps a user's password." />
    </div>
  );
}

const SHOWN = ["host", "routing"];

function certificateState(d: DomainView): string {
  if (!d.tls) {
    return "no TLS";
  }
  if (d.certificate) {
    const days = Math.round((d.certificate.expiresAt.getTime() - Date.now()) / 86_400_000);
    return `${d.certificate.source === "custom" ? "uploaded" : d.certificate.issuer}, expires in ${days} days`;
  }
  if (d.certificateAttempts.failures > 0) {
    return `ordering failed ${d.certificateAttempts.failures}×: ${d.certificateAttempts.lastError ?? ""}`;
  }
  return "being ordered (a self-signed one meanwhile)";
}

export function DomainsTab(props: { api: Apis; app: ApplicationView }): JSX.Element {
  const { api, app } = props;
  const domains = useLoad(() => api.domains.listDomains({ id: app.id }), [api, app.id]);
  const action = useAction();
  const [host, setHost] = useState("");
  const [form, setForm] = useState<RoutingForm>(formOf(null));
  const [editing, setEditing] = useState<string | null>(null);

  async function create(e: FormEvent): Promise<void> {
    e.preventDefault();
    const body = { host: host.trim(), tls: form.tls, routing: routingOf(form) };
    if (await action.run(() => api.domains.createDomain({ id: app.id, domainCreate: body }))) {
      setHost(cleared(body.host));
      setForm(formOf(null));
      await domains.reload();
    }
  }

  const p = action.problem;
  const hostError = fieldError(p, "host") ?? (p?.status === 409 ? p.detail : undefined);
  const other = hostError === undefined ? unshown(p, SHOWN) : null;
  return (
    <>
      {other !== null ? <Banner>{other.detail}</Banner> : null}
      {domains.problem !== null ? <Banner>{domains.problem.detail}</Banner> : null}
      {domains.data === null ? null : domains.data.length === 0 ? (
        <p className="empty">No domains: the application is reached by nothing outside its project.</p>
      ) : (
        <table className="projects" aria-label="Domains">
          <TableHead columns={["Domain", "Routing", "Certificate", "Requests"]} hidden="Actions" />
          <tbody>
            {domains.data.map((d) => (
              <tr key={d.id}>
                <th scope="row">
                  <a href={`${d.tls ? "https" : "http"}://${d.host}${d.routing.pathPrefix}`} rel="noreferrer" target="_blank">
                    {d.host}
                  </a>
                </th>
                <td data-label="Routing">
                  {d.routing.pathPrefix} → port {d.routing.port ?? "default"}
                  {d.routing.basicAuthUsers.length > 0 ? `, basic auth (${d.routing.basicAuthUsers.join(", ")})` : ""}
                  {d.routing.hsts ? ", HSTS" : ""}
                  {d.routing.wwwRedirect !== "none" ? `, ${d.routing.wwwRedirect}` : ""}
                </td>
                <td data-label="Certificate" className={d.certificateAttempts.failures > 0 && !d.certificate ? "failed" : undefined}>
                  {certificateState(d)}
                </td>
                <td data-label="Requests">{d.traffic ? `${d.traffic.requests} (${d.traffic.errors} 5xx)` : "–"}</td>
                <td className="row-actions">
                  <button type="button" aria-label={`Change ${d.host}`} onClick={() => setEditing(editing === d.id ? null : d.id)} aria-expanded={editing === d.id}>
                    Change
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {domains.data
        ?.filter((d) => d.id === editing)
        .map((d) => (
          <DomainEditor
            key={d.id}
            api={api}
            domain={d}
            onDone={async (gone) => {
              if (gone) {
                setEditing(null);
              }
              await domains.reload();
            }}
          />
        ))}
      <form className="card wide" onSubmit={(e) => void create(e)} aria-labelledby="domain-title">
        <h2 id="domain-title">Add a domain</h2>
        <p className="hint">Point the name's DNS at this server first; berth orders its certificate when it is added.</p>
        <Field id="domain-host" label="Domain" value={host} onChange={setHost} error={hostError} hint="Like shop.example.com, or *.example.com for every subdomain." autoComplete="off" />
        <RoutingFields id="domain-new" form={form} set={setForm} action={action} />
        <button type="submit" className="primary" disabled={action.busy}>
          Add the domain
        </button>
      </form>
    </>
  );
}

function DomainEditor(props: { api: Apis; domain: DomainView; onDone: (gone: boolean) => Promise<void> }): JSX.Element {
  const { api, domain } = props;
  const action = useAction();
  const [form, setForm] = useState<RoutingForm>(formOf(domain));
  const [certificatePem, setCertificatePem] = useState("");
  const [keyPem, setKeyPem] = useState("");

  async function act(run: () => Promise<unknown>, gone = false): Promise<void> {
    if (await action.run(run)) {
      await props.onDone(gone);
    }
  }

  const p = action.problem;
  const other = unshown(p, ["routing", "certificate_pem", "private_key_pem"]);
  return (
    <section className="card wide" aria-label={`Domain ${domain.host}`}>
      <h2>{domain.host}</h2>
      {other !== null ? <Banner>{other.detail}</Banner> : null}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void act(() => api.domains.updateDomain({ id: domain.id, domainUpdate: { tls: form.tls, routing: routingOf(form) } }));
        }}
      >
        <RoutingFields id={`domain-${domain.id}`} form={form} set={setForm} action={action} />
        <button type="submit" className="primary" disabled={action.busy}>
          Save routing
        </button>
      </form>
      <h3>Certificate</h3>
      <p>
        {certificateState(domain)}
        {domain.certificate?.renewAt ? ` · renewed from ${domain.certificate.renewAt.toLocaleDateString()}` : ""}
        {domain.certificateAttempts.retryAt ? ` · next try ${domain.certificateAttempts.retryAt.toLocaleString()}` : ""}
      </p>
      <p className="actions">
        {domain.tls && domain.certificate?.source !== "custom" ? (
          <button type="button" onClick={() => void act(() => api.domains.renewCertificate({ id: domain.id }))}>
            Order a certificate now
          </button>
        ) : null}
        {domain.certificate?.source === "custom" ? (
          <button type="button" onClick={() => void act(() => api.domains.deleteCertificate({ id: domain.id }))}>
            Remove the uploaded certificate (back to ACME)
          </button>
        ) : null}
      </p>
      <details>
        <summary>Upload a certificate instead</summary>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void act(() => api.domains.uploadCertificate({ id: domain.id, certificateUpload: { certificatePem, privateKeyPem: keyPem } }));
          }}
        >
          <div className="field">
            <label htmlFor={`cert-${domain.id}`}>Certificate chain (PEM)</label>
            <textarea id={`cert-${domain.id}`} rows={4} value={certificatePem} onChange={(e) => setCertificatePem(e.target.value)} spellCheck={false} />
            {fieldError(p, "certificate_pem") ? <p className="field-error">{fieldError(p, "certificate_pem")}</p> : null}
          </div>
          <div className="field">
            <label htmlFor={`key-${domain.id}`}>Private key (PEM, write-only)</label>
            <textarea id={`key-${domain.id}`} rows={4} value={keyPem} onChange={(e) => setKeyPem(e.target.value)} spellCheck={false} autoComplete="off" />
            {fieldError(p, "private_key_pem") ? <p className="field-error">{fieldError(p, "private_key_pem")}</p> : null}
          </div>
          <button type="submit">Upload</button>
        </form>
      </details>
      <p className="actions">
        <Confirm
          label="Remove the domain…"
          group="Confirm removal"
          question={`The router stops serving ${domain.host}.`}
          action={`Remove ${domain.host}`}
          onConfirm={() => void act(() => api.domains.deleteDomain({ id: domain.id }), true)}
        />
      </p>
    </section>
  );
}
