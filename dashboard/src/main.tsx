// berth's dashboard: signs in (or sets up the first admin), then shows the projects.
import { StrictMode, useCallback, useEffect, useMemo, useState } from "react";
import { createRoot } from "react-dom/client";
import type { UserView } from "@api";

import { apis, problemOf, saveToken, savedToken } from "./client";
import { SignIn } from "./signin";
import { Projects } from "./projects";
import { ProjectPage } from "./project";
import { ApplicationPage } from "./application";
import { href, useRoute } from "./route";
import { TokensPage } from "./tokens";
import { AuditPage } from "./audit";
import { UsersPage } from "./users";
import { TeamPage, TeamsPage } from "./teams";
import { ProfilePage } from "./profile";
import { SettingsPage } from "./settings";
import { RegistriesPage } from "./registries";
import { LiveChanges } from "./live";

function App(): JSX.Element {
  const [token, setToken] = useState<string | null>(savedToken());
  const [me, setMe] = useState<UserView | null>(null);
  const [checking, setChecking] = useState<boolean>(token !== null);
  const route = useRoute();
  const api = useMemo(() => apis(token), [token]);

  const signedIn = useCallback((t: string, user: UserView) => {
    saveToken(t);
    setToken(t);
    setMe(user);
  }, []);

  const signOut = useCallback(async () => {
    try {
      await apis(token).auth.logout();
    } catch {
      // Signed out here either way.
    }
    saveToken(null);
    setToken(null);
    setMe(null);
  }, [token]);

  // berth ended the session (signed out elsewhere, revoked, expired): back to signing in.
  const sessionEnded = useCallback(() => {
    saveToken(null);
    setToken(null);
    setMe(null);
  }, []);

  // A token kept from before a reload: ask who it is, forget it if berth does not know it.
  useEffect(() => {
    if (token === null || me !== null) {
      setChecking(false);
      return;
    }
    let live = true;
    apis(token)
      .users.me()
      .then((user) => live && setMe(user))
      .catch(async (e: unknown) => {
        const p = await problemOf(e);
        if (live && p.status === 401) {
          saveToken(null);
          setToken(null);
        }
      })
      .finally(() => live && setChecking(false));
    return () => {
      live = false;
    };
  }, [token, me]);

  if (checking) {
    return <main className="centered">Loading…</main>;
  }
  if (token === null || me === null) {
    return <SignIn onSignedIn={signedIn} />;
  }
  const admin = me.role === "super_admin" || me.role === "admin";
  return (
    <LiveChanges token={token} onEnded={sessionEnded}>
      <header className="top">
        <a className="brand" href="#/">
          berth
        </a>
        <nav aria-label="Pages" className="pages">
          <a href={href({ page: "projects" })} aria-current={route.page === "projects" ? "page" : undefined}>
            Projects
          </a>
          <a href={href({ page: "teams" })} aria-current={route.page === "teams" || route.page === "team" ? "page" : undefined}>
            Teams
          </a>
          <a href={href({ page: "tokens" })} aria-current={route.page === "tokens" ? "page" : undefined}>
            API tokens
          </a>
          <a href={href({ page: "registries" })} aria-current={route.page === "registries" ? "page" : undefined}>
            Registries
          </a>
          {admin ? (
            <>
              <a href={href({ page: "users" })} aria-current={route.page === "users" ? "page" : undefined}>
                Users
              </a>
              <a href={href({ page: "audit" })} aria-current={route.page === "audit" ? "page" : undefined}>
                Audit log
              </a>
              <a href={href({ page: "settings" })} aria-current={route.page === "settings" ? "page" : undefined}>
                Settings
              </a>
            </>
          ) : null}
        </nav>
        <nav aria-label="Account">
          <a className="who" href={href({ page: "profile" })} aria-current={route.page === "profile" ? "page" : undefined}>
            {me.username} <span className="role">{me.role}</span>
          </a>
          <button type="button" onClick={() => void signOut()}>
            Sign out
          </button>
        </nav>
      </header>
      {route.page === "project" ? (
        <ProjectPage api={api} id={route.id} />
      ) : route.page === "application" ? (
        <ApplicationPage api={api} token={token} id={route.id} tab={route.tab} />
      ) : route.page === "tokens" ? (
        <TokensPage api={api} />
      ) : route.page === "audit" ? (
        <AuditPage api={api} />
      ) : route.page === "users" ? (
        <UsersPage api={api} me={me} />
      ) : route.page === "profile" ? (
        <ProfilePage api={api} me={me} />
      ) : route.page === "settings" ? (
        <SettingsPage api={api} />
      ) : route.page === "registries" ? (
        <RegistriesPage api={api} admin={admin} />
      ) : route.page === "teams" ? (
        <TeamsPage api={api} />
      ) : route.page === "team" ? (
        <TeamPage api={api} id={route.id} admin={admin} />
      ) : (
        <Projects api={api} />
      )}
    </LiveChanges>
  );
}

const root = document.getElementById("root");
if (root !== null) {
  createRoot(root).render(
    <StrictMode>
      <App />
    </StrictMode>,
  );
}
