// The audit log (admins): newest first, filtered by resource, a page at a time by cursor.
import { FormEvent, useCallback, useEffect, useState } from "react";
import type { AuditView } from "@api";

import { Apis, Problem, problemOf } from "./client";
import { useLoad } from "./hooks";
import { Banner, Field, TableHead } from "./form";

export function AuditPage(props: { api: Apis }): JSX.Element {
  const { api } = props;
  const [entries, setEntries] = useState<AuditView[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [resourceType, setResourceType] = useState("");
  const [filter, setFilter] = useState("");
  const [problem, setProblem] = useState<Problem | null>(null);
  // Who did it, by name: the accounts, read once (the log keeps ids, which outlive names).
  const names = useLoad(async () => {
    const users = await api.users.listUsers({ limit: 100 });
    return new Map(users.items.map((u) => [u.id, u.username]));
  }, [api]);

  const load = useCallback(
    async (cursor: string | null) => {
      try {
        const page = await api.audit.listAudit({
          limit: 50,
          cursor: cursor ?? undefined,
          resourceType: filter === "" ? undefined : filter,
        });
        setEntries((before) => (cursor === null || before === null ? page.items : [...before, ...page.items]));
        setNext(page.nextCursor ?? null);
        setProblem(null);
      } catch (e) {
        setProblem(await problemOf(e));
      }
    },
    [api, filter],
  );

  useEffect(() => {
    void load(null);
  }, [load]);

  function applyFilter(e: FormEvent): void {
    e.preventDefault();
    setFilter(resourceType.trim());
  }

  return (
    <main className="page">
      <h1>Audit log</h1>
      {problem !== null ? <Banner>{problem.detail}</Banner> : null}
      <form className="filters" onSubmit={applyFilter} aria-label="Filter the audit log">
        <Field id="audit-resource-type" label="Resource type" value={resourceType} onChange={setResourceType} hint="project, application, user, … (empty: all)" />
        <button type="submit">Filter</button>
      </form>
      {entries === null ? null : entries.length === 0 ? (
        <p className="empty">Nothing recorded{filter !== "" ? ` for ${filter}` : ""}.</p>
      ) : (
        <table className="projects" aria-label="Audit entries">
          <TableHead columns={["When", "Who", "Action", "Resource", "From"]} />
          <tbody>
            {entries.map((e) => (
              <tr key={e.id}>
                <th scope="row">{e.createdAt.toLocaleString()}</th>
                <td data-label="Who">{e.userId ? (names.data?.get(e.userId) ?? <code title={e.userId}>{e.userId.slice(0, 8)}</code>) : "berth"}</td>
                <td data-label="Action">{e.action}</td>
                <td data-label="Resource">
                  {e.resourceType}
                  {e.resourceId ? <span className="description">{e.resourceId}</span> : null}
                </td>
                <td data-label="From">{e.ipAddress ?? ""}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {next !== null ? (
        <button type="button" onClick={() => void load(next)}>
          Older entries
        </button>
      ) : null}
    </main>
  );
}
