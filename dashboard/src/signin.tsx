// Signing in, and setting up the first admin of a new installation.
import { FormEvent, useState } from "react";
import type { UserView } from "@api";

import { apis, Problem, problemOf } from "./client";
import { Banner, Field } from "./form";

export function SignIn(props: { onSignedIn: (token: string, user: UserView) => void }): JSX.Element {
  const [setup, setSetup] = useState(false);
  const [login, setLogin] = useState("");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [problem, setProblem] = useState<Problem | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent): Promise<void> {
    e.preventDefault();
    setBusy(true);
    setProblem(null);
    try {
      const api = apis(null).auth;
      const session = setup
        ? await api.setup({ setupRequest: { username: login, email, password } })
        : await api.login({ loginRequest: { login, password } });
      props.onSignedIn(session.token, session.user);
    } catch (err) {
      const p = await problemOf(err);
      if (p.code === "already_set_up") {
        setSetup(false);
      }
      setProblem(p);
    } finally {
      setBusy(false);
    }
  }

  const fields = problem?.fields ?? {};
  return (
    <main className="centered">
      <form className="card" onSubmit={(e) => void submit(e)} aria-labelledby="signin-title">
        <h1 id="signin-title">{setup ? "Set up berth" : "Sign in to berth"}</h1>
        {setup ? <p>Create the first account; it administers this installation.</p> : null}
        {problem !== null && Object.keys(fields).length === 0 ? <Banner>{problem.detail}</Banner> : null}
        <Field
          id="login"
          label={setup ? "Username" : "Username or email"}
          value={login}
          onChange={setLogin}
          error={fields["username"] ?? fields["login"]}
          autoComplete="username"
        />
        {setup ? (
          <Field id="email" label="Email" type="email" value={email} onChange={setEmail} error={fields["email"]} autoComplete="email" />
        ) : null}
        <Field
          id="password"
          label="Password"
          type="password"
          value={password}
          onChange={setPassword}
          error={fields["password"]}
          autoComplete={setup ? "new-password" : "current-password"}
          hint={setup ? "8 to 128 characters." : undefined}
        />
        <button type="submit" className="primary" disabled={busy}>
          {setup ? "Create the admin account" : "Sign in"}
        </button>
        <button
          type="button"
          className="link"
          onClick={() => {
            setSetup(!setup);
            setProblem(null);
          }}
        >
          {setup ? "I have an account: sign in" : "New installation? Set it up"}
        </button>
      </form>
    </main>
  );
}
