// Where the dashboard is, from the address's fragment (`#/projects/<id>`), so a page can be
// reloaded, bookmarked and gone back to without berth serving more than one page.
import { useEffect, useState } from "react";

export type Route =
  | { page: "projects" }
  | { page: "tokens" }
  | { page: "audit" }
  | { page: "users" }
  | { page: "teams" }
  | { page: "team"; id: string }
  | { page: "project"; id: string }
  | { page: "application"; id: string };

export function parseRoute(hash: string): Route {
  if (hash === "#/tokens") {
    return { page: "tokens" };
  }
  if (hash === "#/audit") {
    return { page: "audit" };
  }
  if (hash === "#/users") {
    return { page: "users" };
  }
  if (hash === "#/teams") {
    return { page: "teams" };
  }
  const m = /^#\/(projects|applications|teams)\/([0-9a-f-]{36})$/.exec(hash);
  if (m === null || m[2] === undefined) {
    return { page: "projects" };
  }
  switch (m[1]) {
    case "projects":
      return { page: "project", id: m[2] };
    case "teams":
      return { page: "team", id: m[2] };
    default:
      return { page: "application", id: m[2] };
  }
}

export function href(route: Route): string {
  switch (route.page) {
    case "project":
      return `#/projects/${route.id}`;
    case "application":
      return `#/applications/${route.id}`;
    case "tokens":
      return "#/tokens";
    case "audit":
      return "#/audit";
    case "users":
      return "#/users";
    case "teams":
      return "#/teams";
    case "team":
      return `#/teams/${route.id}`;
    case "projects":
      return "#/";
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
