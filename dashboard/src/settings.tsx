// Installation settings (admins): how certificates are ordered (the server's ACME settings,
// read only), where DNS-01 answers go, for wildcard certificates, and the edge router's health
// as it reports itself.
import { FormEvent, useState } from "react";

import { Apis } from "./client";
import { Banner, Field } from "./form";
import { fieldError, unshown, useAction, useLoad } from "./hooks";

export function SettingsPage(props: { api: Apis }): JSX.Element {
  const { api } = props;
  const edge = useLoad(() => api.settings.getEdge(), [api]);
  const dns = useLoad(() => api.settings.getAcmeDns(), [api]);
  const acme = useLoad(() => api.settings.getAcme(), [api]);
  const action = useAction();
  const [server, setServer] = useState("");
  const [zone, setZone] = useState("");
  const [keyName, setKeyName] = useState("");
  const [keySecret, setKeySecret] = useState("");

  async function save(e: FormEvent): Promise<void> {
    e.preventDefault();
    const acmeDnsInput = { server: server.trim(), zone: zone.trim(), keyName: keyName.trim(), keySecret: keySecret.trim() };
    if (await action.run(() => api.settings.setAcmeDns({ acmeDnsInput }))) {
      setKeySecret("");
      await dns.reload();
    }
  }

  const p = action.problem;
  const other = unshown(p, ["server", "zone", "key_name", "key_secret"]);
  const e = edge.data;
  const d = dns.data;
  const a = acme.data;
  return (
    <main className="page">
      <h1>Installation settings</h1>
      <section className="card wide" aria-labelledby="edge-title">
        <h2 id="edge-title">Edge router</h2>
        {edge.problem !== null ? <Banner>{edge.problem.detail}</Banner> : null}
        {e === null ? null : e.connected ? (
          <p>
            <span className="status status-running">connected</span> · {e.routes ?? 0} routes, {e.certificates ?? 0} certificates · process {e.pid ?? "?"}
            {e.startedAt ? `, up since ${e.startedAt.toLocaleString()}` : ""}
          </p>
        ) : (
          <p>
            <span className="status status-failed">not reporting</span> No router reported in the last six seconds: domains are not served.
            See docs/operations.md, "Where the router runs".
          </p>
        )}
      </section>
      <section className="card wide" aria-labelledby="acme-title">
        <h2 id="acme-title">Certificates (ACME)</h2>
        {acme.problem !== null ? <Banner>{acme.problem.detail}</Banner> : null}
        {a === null ? null : a.enabled ? (
          <dl className="facts">
            <dt>Directory</dt>
            <dd>
              <code>{a.directory}</code>
              {a.customCaRoot ? " (trusted through a CA root of its own)" : ""}
            </dd>
            <dt>Contact</dt>
            <dd>{a.email ?? "none"}</dd>
            <dt>DNS-01 from the server's settings</dt>
            <dd>{a.dns01FromServerSettings ? "yes" : "no"}</dd>
          </dl>
        ) : (
          <p className="hint">Off: domains with TLS are served with self-signed certificates until one is uploaded.</p>
        )}
        <p className="hint">These are the server's settings (acme_directory, acme_email, acme_ca_root: see the README); they change there, not here.</p>
      </section>
      <section className="card wide" aria-labelledby="dns-title">
        <h2 id="dns-title">DNS-01 for wildcard certificates</h2>
        {dns.problem !== null ? <Banner>{dns.problem.detail}</Banner> : null}
        {d === null ? null : d.configured ? (
          <p>
            Answers go to <code>{d.server}</code>, zone <code>{d.zone}</code>, key <code>{d.keyName}</code> (its secret is never shown).{" "}
            <button type="button" className="danger-outline" onClick={() => void action.run(async () => { await api.settings.deleteAcmeDns(); await dns.reload(); })}>
              Remove
            </button>
          </p>
        ) : (
          <p className="hint">Not set here: the server's own acme_dns_* settings apply, if any.</p>
        )}
        {other !== null ? <Banner>{other.detail}</Banner> : null}
        <form onSubmit={(ev) => void save(ev)}>
          <div className="grid">
            <Field id="dns-server" label="DNS server" value={server} onChange={setServer} error={fieldError(p, "server")} hint="address:port of the primary taking RFC 2136 updates, like 192.0.2.1:53" />
            <Field id="dns-zone" label="Zone" value={zone} onChange={setZone} error={fieldError(p, "zone")} hint="Like example.com" />
            <Field id="dns-key-name" label="TSIG key name" value={keyName} onChange={setKeyName} error={fieldError(p, "key_name")} autoComplete="off" />
            <Field id="dns-key-secret" label="TSIG key secret" type="password" value={keySecret} onChange={setKeySecret} error={fieldError(p, "key_secret")} autoComplete="off" hint="HMAC-SHA256, base64, as tsig-keygen prints it. Write-only." />
          </div>
          <button type="submit" className="primary" disabled={action.busy}>
            Save
          </button>
        </form>
      </section>
    </main>
  );
}
