// An application's volumes: named storage mounted into its containers from the next
// deployment, kept across deployments; deleting one deletes its data (asked twice).
import { FormEvent, useState } from "react";
import type { ApplicationView } from "@api";

import { Apis } from "./client";
import { Banner, Confirm, Field, TableHead } from "./form";
import { cleared, fieldError, unshown, useAction, useLoad } from "./hooks";

export function VolumesTab(props: { api: Apis; app: ApplicationView }): JSX.Element {
  const { api, app } = props;
  const volumes = useLoad(() => api.applications.listVolumes({ id: app.id }), [api, app.id]);
  const action = useAction();
  const [name, setName] = useState("");
  const [mountPath, setMountPath] = useState("");
  const [size, setSize] = useState("1");

  async function create(e: FormEvent): Promise<void> {
    e.preventDefault();
    const body = { name: name.trim(), mountPath: mountPath.trim(), sizeGb: Number(size) };
    if (await action.run(() => api.applications.createVolume({ id: app.id, volumeCreate: body }))) {
      setName(cleared(body.name));
      setMountPath(cleared(body.mountPath));
      setSize("1");
      await volumes.reload();
    }
  }

  async function remove(id: string): Promise<void> {
    if (await action.run(() => api.applications.deleteVolume({ id }))) {
      await volumes.reload();
    }
  }

  const p = action.problem;
  const nameError = fieldError(p, "name") ?? (p?.code === "name_taken" ? p.detail : undefined);
  const other = nameError === undefined ? unshown(p, ["name", "mount_path", "size_gb"]) : null;
  return (
    <>
      {other !== null ? <Banner>{other.detail}</Banner> : null}
      {volumes.problem !== null ? <Banner>{volumes.problem.detail}</Banner> : null}
      {volumes.data === null ? null : volumes.data.length === 0 ? (
        <p className="empty">No volumes: the containers keep nothing across deployments.</p>
      ) : (
        <table className="projects" aria-label="Volumes">
          <TableHead columns={["Name", "Mounted at", "Size", "Docker volume"]} hidden="Delete" />
          <tbody>
            {volumes.data.map((v) => (
              <tr key={v.id}>
                <th scope="row">{v.name}</th>
                <td data-label="Mounted at">
                  <code>{v.mountPath}</code>
                </td>
                <td data-label="Size">{v.sizeGb} GB</td>
                <td data-label="Docker volume">
                  <code>{v.engineName}</code>
                </td>
                <td>
                  <Confirm
                    label="Delete…"
                    ariaLabel={`Delete ${v.name}…`}
                    group={`Confirm deleting ${v.name}`}
                    question="Its data goes too."
                    action={`Delete ${v.name} and its data`}
                    onConfirm={() => void remove(v.id)}
                  />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form className="card" onSubmit={(e) => void create(e)} aria-labelledby="volume-title">
        <h2 id="volume-title">New volume</h2>
        <Field id="volume-name" label="Name" value={name} onChange={setName} error={nameError} hint="Lowercase letters, digits and '-'." autoComplete="off" />
        <Field id="volume-path" label="Mount path" value={mountPath} onChange={setMountPath} error={fieldError(p, "mount_path")} hint="An absolute path in the container, like /data." />
        <Field id="volume-size" label="Size (GB)" type="number" value={size} onChange={setSize} error={fieldError(p, "size_gb")} />
        <button type="submit" className="primary" disabled={action.busy}>
          Add the volume
        </button>
      </form>
    </>
  );
}
