// An application's settings: name, description, where it comes from (credentials write-only),
// replicas, command, release command, ports, health check and limits, saved in one PATCH with
// berth's message for each field shown beside it.
import { FormEvent, useState } from "react";
import type { ApplicationInput, ApplicationView, PortInput, SourceInput } from "@api";
import { PortInputModeEnum, PortInputProtocolEnum, SourceInputOneOfProviderEnum } from "@api";

import { Apis } from "./client";
import { Banner, Field } from "./form";
import { enumValue, fieldError, unshown, useAction } from "./hooks";

interface PortRow {
  container: string;
  published: string;
  protocol: string;
  mode: string;
}

interface Health {
  on: boolean;
  httpPath: string;
  port: string;
  intervalS: string;
  timeoutS: string;
  retries: string;
  startPeriodS: string;
}

/** The git hosts whose push webhooks berth understands (`git`: any other, by its token). */
const PROVIDERS: [string, string][] = [
  ["git", "Other git server"],
  ["github", "GitHub"],
  ["gitlab", "GitLab"],
  ["gitea", "Gitea"],
  ["bitbucket", "Bitbucket"],
];

/** The choice of git host, which decides the webhook berth expects. */
/** A git host as the client spells it (the field offers only these). */
export function providerOf(s: string): SourceInputOneOfProviderEnum {
  return enumValue(SourceInputOneOfProviderEnum, s, SourceInputOneOfProviderEnum.Git);
}

export function ProviderField(props: { id: string; value: string; onChange: (value: string) => void }): JSX.Element {
  return (
    <div className="field">
      <label htmlFor={props.id}>Git host</label>
      <select id={props.id} value={props.value} onChange={(e) => props.onChange(e.target.value)}>
        {PROVIDERS.map(([value, label]) => (
          <option key={value} value={value}>
            {label}
          </option>
        ))}
      </select>
    </div>
  );
}

type Json = Record<string, unknown>;

function str(v: unknown): string {
  return v === null || v === undefined ? "" : String(v);
}

function words(s: string): string[] | null {
  const w = s.trim().split(/\s+/).filter((x) => x !== "");
  return w.length === 0 ? null : w;
}

/** A number typed in a field, or `null` when empty; text that is no number goes as is, for berth to refuse. */
function num(s: string): number | null {
  return s.trim() === "" ? null : Number(s.trim());
}

export function SettingsTab(props: { api: Apis; app: ApplicationView; onSaved: () => Promise<void> }): JSX.Element {
  const { api, app } = props;
  const source = app.source as Json;
  const git = source["type"] === "git";
  const hc = (app.healthCheck ?? null) as Json | null;
  const res = (app.resources ?? null) as Json | null;
  const [name, setName] = useState(app.name);
  const [description, setDescription] = useState(app.description ?? "");
  const [image, setImage] = useState(str(source["image"]));
  const [provider, setProvider] = useState(str(source["provider"]) || "git");
  const [repository, setRepository] = useState(str(source["repository"]));
  const [branch, setBranch] = useState(str(source["branch"]));
  const [dockerfile, setDockerfile] = useState(str(source["dockerfile"]) || "Dockerfile");
  const [context, setContext] = useState(str(source["context"]) || ".");
  const [credential, setCredential] = useState("");
  const [replicas, setReplicas] = useState(String(app.replicas));
  const [command, setCommand] = useState((app.command ?? []).join(" "));
  const [release, setRelease] = useState((app.releaseCommand ?? []).join(" "));
  const [ports, setPorts] = useState<PortRow[]>(
    (app.ports as Json[]).map((p) => ({
      container: str(p["container"]),
      published: str(p["published"]),
      protocol: str(p["protocol"]) || "tcp",
      mode: str(p["mode"]) || "ingress",
    })),
  );
  const [health, setHealth] = useState<Health>({
    on: hc !== null,
    httpPath: str(hc?.["http_path"]),
    port: str(hc?.["port"]),
    intervalS: str(hc?.["interval_s"] ?? 5),
    timeoutS: str(hc?.["timeout_s"] ?? 3),
    retries: str(hc?.["retries"] ?? 3),
    startPeriodS: str(hc?.["start_period_s"] ?? 0),
  });
  const [cpus, setCpus] = useState(str(res?.["cpus"]));
  const [memory, setMemory] = useState(str(res?.["memory_mb"]));
  const [saved, setSaved] = useState(false);
  const action = useAction();
  const p = action.problem;

  async function save(e: FormEvent): Promise<void> {
    e.preventDefault();
    setSaved(false);
    const src: SourceInput = git
      ? {
          type: "git",
          provider: providerOf(provider),
          repository: repository.trim(),
          branch: branch.trim(),
          dockerfile: dockerfile.trim(),
          context: context.trim(),
          // Kept as they are: this form does not show them.
          buildArgs: (source["build_args"] as Record<string, string> | undefined) ?? {},
          target: source["target"] === undefined ? null : (source["target"] as string | null),
          submodules: source["submodules"] === true,
          credentials:
            credential.trim() === ""
              ? undefined
              : credential.includes("PRIVATE KEY")
                ? { sshKey: credential }
                : { token: credential.trim() },
        }
      : { type: "image", image: image.trim() };
    const body: ApplicationInput = {
      name: name.trim(),
      description: description.trim() === "" ? null : description.trim(),
      source: src,
      replicas: num(replicas),
      command: words(command),
      releaseCommand: words(release),
      ports: ports.map(
        (r): PortInput => ({
          container: num(r.container) ?? 0,
          published: num(r.published),
          protocol: enumValue(PortInputProtocolEnum, r.protocol, PortInputProtocolEnum.Tcp),
          mode: enumValue(PortInputModeEnum, r.mode, PortInputModeEnum.Ingress),
        }),
      ),
      healthCheck: health.on
        ? {
            httpPath: health.httpPath.trim(),
            port: num(health.port) ?? 0,
            intervalS: num(health.intervalS),
            timeoutS: num(health.timeoutS),
            retries: num(health.retries),
            startPeriodS: num(health.startPeriodS),
          }
        : null,
      resources: cpus.trim() === "" && memory.trim() === "" ? null : { cpus: num(cpus), memoryMb: num(memory) },
    };
    if (await action.run(() => api.applications.updateApplication({ id: app.id, applicationInput: body }))) {
      setCredential("");
      setSaved(true);
      await props.onSaved();
    }
  }

  const setPort = (i: number, change: Partial<PortRow>): void =>
    setPorts((rows) => rows.map((r, j) => (j === i ? { ...r, ...change } : r)));
  const shown = ["name", "description", "source", "replicas", "command", "release_command", "ports", "health_check", "resources"];
  const other = unshown(p, shown);
  return (
    <form className="card wide settings" onSubmit={(e) => void save(e)} aria-labelledby="settings-title">
      <h2 id="settings-title">Settings</h2>
      <p className="hint">Saved settings apply from the next deployment.</p>
      {other !== null ? <Banner>{other.detail}</Banner> : null}
      {saved ? (
        <p className="saved" role="status">
          Saved. Deploy to apply.
        </p>
      ) : null}
      <div className="grid">
        <Field id="set-name" label="Name" value={name} onChange={setName} error={fieldError(p, "name") ?? (p?.code === "name_taken" ? p.detail : undefined)} />
        <Field id="set-description" label="Description" value={description} onChange={setDescription} error={fieldError(p, "description")} />
      </div>
      <fieldset>
        <legend>Source</legend>
        {git ? (
          <div className="grid">
            <ProviderField id="set-provider" value={provider} onChange={setProvider} />
            <Field id="set-repository" label="Repository URL" value={repository} onChange={setRepository} error={fieldError(p, "source.repository", "source")} />
            <Field id="set-branch" label="Branch" value={branch} onChange={setBranch} error={fieldError(p, "source.branch")} />
            <Field id="set-dockerfile" label="Dockerfile" value={dockerfile} onChange={setDockerfile} error={fieldError(p, "source.dockerfile")} />
            <Field id="set-context" label="Build context" value={context} onChange={setContext} error={fieldError(p, "source.context")} />
            <div className={fieldError(p, "source.credentials") ? "field invalid" : "field"}>
              <label htmlFor="set-credential">Access token or SSH private key</label>
              <textarea
                id="set-credential"
                rows={2}
                value={credential}
                autoComplete="off"
                spellCheck={false}
                onChange={(e) => setCredential(e.target.value)}
                aria-describedby="set-credential-hint"
              />
              <p className="hint" id="set-credential-hint">
                {app.hasCredentials ? "Credentials are stored (never shown). Empty keeps them." : "None stored. Write-only: never shown again."}
              </p>
              {fieldError(p, "source.credentials") ? <p className="field-error">{fieldError(p, "source.credentials")}</p> : null}
            </div>
          </div>
        ) : (
          <Field id="set-image" label="Image" value={image} onChange={setImage} error={fieldError(p, "source.image", "source")} />
        )}
      </fieldset>
      <fieldset>
        <legend>Run</legend>
        <div className="grid">
          <Field id="set-replicas" label="Replicas" type="number" value={replicas} onChange={setReplicas} error={fieldError(p, "replicas")} />
          <Field id="set-command" label="Command" value={command} onChange={setCommand} error={fieldError(p, "command")} hint="Run as is, no shell. Empty: the image's own." />
          <Field id="set-release" label="Release command" value={release} onChange={setRelease} error={fieldError(p, "release_command")} hint="Runs once before each rollout (migrations); a failure stops it." />
        </div>
      </fieldset>
      <fieldset>
        <legend>Ports</legend>
        {ports.length === 0 ? <p className="hint">None: the router reaches the application on port 80 unless a domain names another.</p> : null}
        {ports.map((r, i) => (
          <div className="port-row" role="group" aria-label={`Port ${i + 1}`} key={i}>
            <Field id={`port-${i}-container`} label="Container port" type="number" value={r.container} onChange={(v) => setPort(i, { container: v })} error={fieldError(p, `ports.${i}.container`)} />
            <Field id={`port-${i}-published`} label="Published on the host" type="number" value={r.published} onChange={(v) => setPort(i, { published: v })} error={fieldError(p, `ports.${i}.published`)} hint="Empty: reached only through domains." />
            <div className="field">
              <label htmlFor={`port-${i}-protocol`}>Protocol</label>
              <select id={`port-${i}-protocol`} value={r.protocol} onChange={(e) => setPort(i, { protocol: e.target.value })}>
                <option value="tcp">tcp</option>
                <option value="udp">udp</option>
              </select>
            </div>
            <div className="field">
              <label htmlFor={`port-${i}-mode`}>Mode</label>
              <select id={`port-${i}-mode`} value={r.mode} onChange={(e) => setPort(i, { mode: e.target.value })}>
                <option value="ingress">ingress</option>
                <option value="host">host</option>
              </select>
            </div>
            <button type="button" className="danger-outline" aria-label={`Remove port ${i + 1}`} onClick={() => setPorts((rows) => rows.filter((_, j) => j !== i))}>
              Remove
            </button>
          </div>
        ))}
        {fieldError(p, "ports") ? <p className="field-error" id="ports-error" role="alert">{fieldError(p, "ports")}</p> : null}
        <button type="button" onClick={() => setPorts((rows) => [...rows, { container: "", published: "", protocol: "tcp", mode: "ingress" }])}>
          Add a port
        </button>
      </fieldset>
      <fieldset>
        <legend>Health check</legend>
        <label className="check">
          <input type="checkbox" checked={health.on} onChange={(e) => setHealth({ ...health, on: e.target.checked })} /> Check each replica's health
        </label>
        {health.on ? (
          <div className="grid">
            <Field id="hc-path" label="HTTP path" value={health.httpPath} onChange={(v) => setHealth({ ...health, httpPath: v })} error={fieldError(p, "health_check.http_path")} hint="Like /health" />
            <Field id="hc-port" label="Port" type="number" value={health.port} onChange={(v) => setHealth({ ...health, port: v })} error={fieldError(p, "health_check.port")} />
            <Field id="hc-interval" label="Every (s)" type="number" value={health.intervalS} onChange={(v) => setHealth({ ...health, intervalS: v })} />
            <Field id="hc-timeout" label="Timeout (s)" type="number" value={health.timeoutS} onChange={(v) => setHealth({ ...health, timeoutS: v })} />
            <Field id="hc-retries" label="Retries" type="number" value={health.retries} onChange={(v) => setHealth({ ...health, retries: v })} />
            <Field id="hc-start" label="Start period (s)" type="number" value={health.startPeriodS} onChange={(v) => setHealth({ ...health, startPeriodS: v })} />
          </div>
        ) : null}
        {fieldError(p, "health_check") ? <p className="field-error" id="health-check-error" role="alert">{fieldError(p, "health_check")}</p> : null}
      </fieldset>
      <fieldset>
        <legend>Limits</legend>
        <div className="grid">
          <Field id="res-cpus" label="CPUs" value={cpus} onChange={setCpus} hint="Like 0.5; empty: no limit." />
          <Field id="res-memory" label="Memory (MiB)" type="number" value={memory} onChange={setMemory} hint="Empty: the installation's default." />
        </div>
        {fieldError(p, "resources") ? <p className="field-error" id="resources-error" role="alert">{fieldError(p, "resources")}</p> : null}
      </fieldset>
      <button type="submit" className="primary" disabled={action.busy}>
        Save settings
      </button>
    </form>
  );
}
