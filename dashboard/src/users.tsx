// Accounts (admins): listed with their platform role, and a form to make one.
import { FormEvent, useCallback, useEffect, useState } from "react";
import { UserCreateRoleEnum } from "@api";
import type { UserView } from "@api";

import { Apis, Problem, problemOf } from "./client";
import { Banner, Confirm, Field, TableHead } from "./form";
import { cleared, enumValue, useAction } from "./hooks";

/** The platform roles, as the API's document lists them. */
const PLATFORM_ROLES: UserCreateRoleEnum[] = Object.values(UserCreateRoleEnum);

function platformRole(s: string): UserCreateRoleEnum {
  return enumValue(UserCreateRoleEnum, s, UserCreateRoleEnum.Developer);
}

export function UsersPage(props: { api: Apis; me: UserView }): JSX.Element {
  const { api, me } = props;
  const change = useAction();

  const [users, setUsers] = useState<UserView[] | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [username, setUsername] = useState("");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [role, setRole] = useState<UserCreateRoleEnum>(UserCreateRoleEnum.Developer);

  const load = useCallback(async () => {
    try {
      setUsers((await api.users.listUsers({ limit: 100 })).items);
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
      const sent = { username: username.trim(), email: email.trim(), password };
      await api.users.createUser({ userCreate: { ...sent, role } });
      setUsername(cleared(sent.username));
      setEmail(cleared(sent.email));
      setPassword(cleared(sent.password));
      await load();
    } catch (err) {
      setProblem(await problemOf(err));
    }
  }

  const fields = problem?.fields ?? {};
  const usernameError = fields["username"] ?? (problem?.code === "name_taken" ? problem.detail : undefined);
  return (
    <main className="page">
      <h1>Users</h1>
      {problem !== null && usernameError === undefined && Object.keys(fields).length === 0 ? <Banner>{problem.detail}</Banner> : null}
      {change.problem !== null ? <Banner>{change.problem.detail}</Banner> : null}
      {users === null ? null : (
        <table className="projects" aria-label="Users">
          <TableHead columns={["Username", "Email", "Role", "Since"]} hidden="Delete" />
          <tbody>
            {users.map((u) => (
              <tr key={u.id}>
                <th scope="row">{u.username}</th>
                <td data-label="Email">{u.email}</td>
                <td data-label="Role">
                  {u.id === me.id ? (
                    u.role
                  ) : (
                    <select
                      aria-label={`Role of ${u.username}`}
                      value={u.role}
                      onChange={(e) => void change.run(() => api.users.updateUser({ id: u.id, userUpdate: { role: platformRole(e.target.value) } })).then(load)}
                    >
                      {PLATFORM_ROLES.map((r) => (
                        <option key={r} value={r}>
                          {r}
                        </option>
                      ))}
                    </select>
                  )}
                </td>
                <td data-label="Since">{u.createdAt.toLocaleDateString()}</td>
                <td>
                  {u.id === me.id ? null : (
                    <Confirm
                      label="Delete…"
                      ariaLabel={`Delete ${u.username}…`}
                      group={`Confirm deleting ${u.username}`}
                      question="Their projects go with them."
                      action={`Delete ${u.username}`}
                      onConfirm={() => void change.run(() => api.users.deleteUser({ id: u.id })).then(load)}
                    />
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form className="card" onSubmit={(e) => void create(e)} aria-labelledby="new-user-title">
        <h2 id="new-user-title">New account</h2>
        <Field id="user-username" label="Username" value={username} onChange={setUsername} error={usernameError} autoComplete="off" />
        <Field id="user-email" label="Email" type="email" value={email} onChange={setEmail} error={fields["email"]} autoComplete="off" />
        <Field id="user-password" label="Password" type="password" value={password} onChange={setPassword} error={fields["password"]} autoComplete="new-password" hint="8 to 128 characters; tell it to them another way." />
        <div className="field">
          <label htmlFor="user-role">Role</label>
          <select id="user-role" value={role} onChange={(e) => setRole(platformRole(e.target.value))}>
            {PLATFORM_ROLES.map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        </div>
        <button type="submit" className="primary">
          Create the account
        </button>
      </form>
    </main>
  );
}
