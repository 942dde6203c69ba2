// Installation settings (admins): how certificates are ordered (the server's ACME settings,
// read only), where DNS-01 answers go, for wildcard certificates, the edge router's health
// as it reports itself, and the scheduled jobs with their timetable and last run.
import { FormEvent, useState } from "react";

import type { ScheduleView } from "@api";

import { Apis } from "./client";
import { Banner, Field, TableHead } from "./form";
import { fieldError, unshown, useAction, useLoad } from "./hooks";

export function SettingsPage(props: { api: Apis }): JSX.Element {
  const { api } = props;
  const edge = useLoad(() => api.settings.getEdge(), [api]);
  const dns = useLoad(() => api.settings.getAcmeDns(), [api]);
  const acme = useLoad(() => api.settings.getAcme(), [api]);
  const schedules = useLoad(() => api.schedules.listSchedules(), [api]);
  const scheduleAction = useAction();
  const [timetables, setTimetables] = useState<Record<string, string>>({});

  async function saveSchedule(sc: ScheduleView, enabled: boolean): Promise<void> {
    const cron = (timetables[sc.id] ?? sc.cron).trim();
    if (await scheduleAction.run(() => api.schedules.updateSchedule({ id: sc.id, scheduleUpdate: { cron, enabled } }))) {
      await schedules.reload();
    }
  }

  async function runNow(sc: ScheduleView): Promise<void> {
    if (await scheduleAction.run(() => api.schedules.runSchedule({ id: sc.id }))) {
      // The run is answered before it happens: look again once it has had a moment.
      await new Promise((done) => setTimeout(done, 500));
      await schedules.reload();
    }
  }
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
      <section className="card wide" aria-labelledby="schedules-title">
        <h2 id="schedules-title">Scheduled jobs</h2>
        {schedules.problem !== null ? <Banner>{schedules.problem.detail}</Banner> : null}
        {scheduleAction.problem !== null && fieldError(scheduleAction.problem, "cron") === undefined ? <Banner>{scheduleAction.problem.detail}</Banner> : null}
        {schedules.data === null ? null : (
          <table className="projects" aria-label="Scheduled jobs">
            <TableHead columns={["Job", "When (minute hour day month weekday)", "Next run", "Last run"]} hidden="Actions" />
            <tbody>
              {schedules.data.map((sc) => (
                <tr key={sc.id}>
                  <th scope="row">{sc.kind}</th>
                  <td data-label="When">
                    <input
                      id={`schedule-${sc.kind}`}
                      aria-label={`When ${sc.kind} runs`}
                      aria-invalid={fieldError(scheduleAction.problem, "cron") ? true : undefined}
                      value={timetables[sc.id] ?? sc.cron}
                      onChange={(e) => setTimetables({ ...timetables, [sc.id]: e.target.value })}
                    />
                    {fieldError(scheduleAction.problem, "cron") ? (
                      <p className="field-error" id="schedule-cron-error" role="alert">
                        {fieldError(scheduleAction.problem, "cron")}
                      </p>
                    ) : (
                      <p className="hint">{sc.timeZone}</p>
                    )}
                  </td>
                  <td data-label="Next run">{sc.enabled ? sc.nextRunAt.toLocaleString() : "off"}</td>
                  <td data-label="Last run">
                    {sc.lastRun ? (
                      <>
                        <span className={`status status-${sc.lastRun.status === "success" ? "running" : sc.lastRun.status === "failed" ? "failed" : "deploying"}`}>{sc.lastRun.status}</span>{" "}
                        {sc.lastRun.startedAt.toLocaleString()}
                        {sc.lastRun.message ? <p className="hint">{sc.lastRun.message}</p> : null}
                      </>
                    ) : (
                      "never"
                    )}
                  </td>
                  <td>
                    <button type="button" onClick={() => void saveSchedule(sc, sc.enabled)} aria-label={`Save when ${sc.kind} runs`}>
                      Save
                    </button>{" "}
                    <button type="button" onClick={() => void saveSchedule(sc, !sc.enabled)} aria-label={`${sc.enabled ? "Turn off" : "Turn on"} ${sc.kind}`}>
                      {sc.enabled ? "Turn off" : "Turn on"}
                    </button>{" "}
                    <button type="button" onClick={() => void runNow(sc)} aria-label={`Run ${sc.kind} now`}>
                      Run now
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <p className="hint">A run missed while berth was down runs once when it starts again.</p>
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
