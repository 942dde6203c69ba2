// Where the dashboard is, from the address's fragment (`#/projects/<id>`), so a page can be
// reloaded, bookmarked and gone back to without berth serving more than one page.
import { useEffect, useState } from "react";

/** The parts of an application's page, each at its own address (`#/applications/<id>/env`). */
export const APP_TABS = [
  ["overview", "Overview"],
  ["settings", "Settings"],
  ["env", "Environment"],
  ["volumes", "Volumes"],
  ["domains", "Domains"],
  ["access", "Webhook and tokens"],
  ["replicas", "Replicas and logs"],
] as const;

export type AppTab = (typeof APP_TABS)[number][0];

export type Route =
  | { page: "projects" }
  | { page: "tokens" }
  | { page: "audit" }
  | { page: "users" }
  | { page: "teams" }
  | { page: "profile" }
  | { page: "settings" }
  | { page: "registries" }
  | { page: "team"; id: string }
  | { page: "project"; id: string }
  | { page: "application"; id: string; tab?: AppTab };

const FIXED: Record<string, Route> = {
  "#/tokens": { page: "tokens" },
  "#/audit": { page: "audit" },
  "#/users": { page: "users" },
  "#/teams": { page: "teams" },
  "#/profile": { page: "profile" },
  "#/settings": { page: "settings" },
  "#/registries": { page: "registries" },
};

function appTab(s: string | undefined): AppTab | undefined {
  return APP_TABS.find(([t]) => t === s)?.[0];
}

export function parseRoute(full: string): Route {
  // What follows `?` chooses within a page (`#/applications/<id>?deployment=<id>`).
  const hash = full.split("?")[0] ?? "";
  const fixed = FIXED[hash];
  if (fixed !== undefined) {
    return fixed;
  }
  const m = /^#\/(projects|applications|teams)\/([0-9a-f-]{36})(?:\/([a-z]+))?$/.exec(hash);
  if (m === null || m[2] === undefined) {
    return { page: "projects" };
  }
  switch (m[1]) {
    case "projects":
      return { page: "project", id: m[2] };
    case "teams":
      return { page: "team", id: m[2] };
    default:
      return { page: "application", id: m[2], tab: appTab(m[3]) };
  }
}

export function href(route: Route): string {
  switch (route.page) {
    case "project":
      return `#/projects/${route.id}`;
    case "application":
      return route.tab === undefined || route.tab === "overview"
        ? `#/applications/${route.id}`
        : `#/applications/${route.id}/${route.tab}`;
    case "team":
      return `#/teams/${route.id}`;
    case "projects":
      return "#/";
    default:
      return `#/${route.page}`;
  }
}

export function useRoute(): Route {
  const [route, setRoute] = useState<Route>(parseRoute(window.location.hash));
  useEffect(() => {
    const follow = (): void => setRoute(parseRoute(window.location.hash));
    window.addEventListener("hashchange", follow);
    return () => window.removeEventListener("hashchange", follow);
  }, []);
  return route;
}
