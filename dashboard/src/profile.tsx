// The caller's own account: who they are, and a new password (their current one asked first).
import { FormEvent, useState } from "react";
import type { UserView } from "@api";

import { Apis } from "./client";
import { Banner, Field } from "./form";
import { fieldError, unshown, useAction } from "./hooks";

export function ProfilePage(props: { api: Apis; me: UserView }): JSX.Element {
  const { api, me } = props;
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [revoke, setRevoke] = useState(false);
  const [done, setDone] = useState(false);
  const action = useAction();

  async function change(e: FormEvent): Promise<void> {
    e.preventDefault();
    setDone(false);
    const userUpdate = { currentPassword: current, password: next, revokeTokens: revoke };
    if (await action.run(() => api.users.updateUser({ id: me.id, userUpdate }))) {
      setCurrent("");
      setNext("");
      setDone(true);
    }
  }

  const p = action.problem;
  // berth refuses a missing or wrong current password as forbidden; it belongs beside its field.
  const wrongCurrent = p?.code === "current_password_required" ? p.detail : undefined;
  const other = wrongCurrent !== undefined ? null : unshown(p, ["current_password", "password"]);
  return (
    <main className="page">
      <h1>Your account</h1>
      <dl className="facts">
        <dt>Username</dt>
        <dd>{me.username}</dd>
        <dt>Email</dt>
        <dd>{me.email}</dd>
        <dt>Role</dt>
        <dd>{me.role}</dd>
        <dt>Since</dt>
        <dd>{me.createdAt.toLocaleDateString()}</dd>
      </dl>
      <form className="card" onSubmit={(e) => void change(e)} aria-labelledby="password-title">
        <h2 id="password-title">Change your password</h2>
        {other !== null ? <Banner>{other.detail}</Banner> : null}
        {done ? (
          <p className="saved" role="status">
            Changed. Your other sessions have ended.
          </p>
        ) : null}
        {/* For password managers: whose password this is. */}
        <input className="visually-hidden" type="text" name="username" autoComplete="username" value={me.username} readOnly tabIndex={-1} aria-hidden="true" />
        <Field id="current-password" label="Current password" type="password" value={current} onChange={setCurrent} error={fieldError(p, "current_password") ?? wrongCurrent} autoComplete="current-password" />
        <Field id="new-password" label="New password" type="password" value={next} onChange={setNext} error={fieldError(p, "password")} autoComplete="new-password" hint="8 to 128 characters." />
        <label className="check">
          <input type="checkbox" checked={revoke} onChange={(e) => setRevoke(e.target.checked)} /> Revoke my API tokens too
        </label>
        <button type="submit" className="primary" disabled={action.busy}>
          Change the password
        </button>
      </form>
    </main>
  );
}
