// The caller's personal API tokens: listed, made (the secret shown once), revoked.
import { FormEvent, useCallback, useEffect, useState } from "react";
import type { CreatedToken, TokenView } from "@api";

import { Apis, Problem, problemOf } from "./client";
import { Banner, Field, TableHead } from "./form";
import { cleared } from "./hooks";

export function TokensPage(props: { api: Apis }): JSX.Element {
  const { api } = props;
  const [tokens, setTokens] = useState<TokenView[] | null>(null);
  const [made, setMade] = useState<CreatedToken | null>(null);
  const [name, setName] = useState("");
  const [days, setDays] = useState("");
  const [problem, setProblem] = useState<Problem | null>(null);

  const load = useCallback(async () => {
    try {
      setTokens(await api.tokens.listTokens());
    } catch (e) {
      setProblem(await problemOf(e));
    }
  }, [api]);

  useEffect(() => {
    void load();
  }, [load]);

  async function create(e: FormEvent): Promise<void> {
    e.preventDefault();
    setProblem(null);
    try {
      const sent = name.trim();
      const expiresInDays = days.trim() === "" ? undefined : Number(days);
      setMade(await api.tokens.createToken({ tokenCreate: { name: sent, expiresInDays } }));
      setName(cleared(sent));
      await load();
    } catch (err) {
      setProblem(await problemOf(err));
    }
  }

  async function revoke(id: string): Promise<void> {
    setProblem(null);
    try {
      await api.tokens.deleteToken({ id });
      if (made?.id === id) {
        setMade(null);
      }
      await load();
    } catch (err) {
      setProblem(await problemOf(err));
    }
  }

  const fields = problem?.fields ?? {};
  return (
    <main className="page">
      <h1>API tokens</h1>
      <p className="hint">
        Personal tokens for scripts and tools: send one as <code>Authorization: Bearer &lt;token&gt;</code>; it acts as you.
      </p>
      {problem !== null && Object.keys(fields).length === 0 ? <Banner>{problem.detail}</Banner> : null}
      {made !== null ? (
        <div className="card wide secret" role="status">
          <p>
            The token <strong>{made.name}</strong>, shown this once (berth keeps only its hash):
          </p>
          <code className="token" aria-label="The new token's secret">
            {made.token}
          </code>
        </div>
      ) : null}
      {tokens === null ? null : tokens.length === 0 ? (
        <p className="empty">No tokens yet.</p>
      ) : (
        <table className="projects" aria-label="Tokens">
          <TableHead columns={["Name", "Created", "Last used", "Expires"]} hidden="Revoke" />
          <tbody>
            {tokens.map((t) => (
              <tr key={t.id}>
                <th scope="row">{t.name}</th>
                <td data-label="Created">{t.createdAt.toLocaleString()}</td>
                <td data-label="Last used">{t.lastUsedAt ? t.lastUsedAt.toLocaleString() : "never"}</td>
                <td data-label="Expires">{t.expiresAt ? t.expiresAt.toLocaleString() : "never"}</td>
                <td>
                  {t.revokedAt ? (
                    <span className="status status-failed">revoked {t.revokedAt.toLocaleString()}</span>
                  ) : (
                    <button type="button" className="danger-outline" onClick={() => void revoke(t.id)} aria-label={`Revoke ${t.name}`}>
                      Revoke
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form className="card" onSubmit={(e) => void create(e)} aria-labelledby="new-token-title">
        <h2 id="new-token-title">Make a token</h2>
        <Field id="token-name" label="Name" value={name} onChange={setName} error={fields["name"]} hint="What it is for, like ci or backup-script." />
        <Field id="token-days" label="Expires in (days)" value={days} onChange={setDays} error={fields["expires_in_days"]} hint="1 to 3650; empty: it does not expire." />
        <button type="submit" className="primary">
          Make the token
        </button>
      </form>
    </main>
  );
}
