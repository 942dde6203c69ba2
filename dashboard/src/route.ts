// Where the dashboard is, from the address's fragment (`#/projects/<id>`), so a page can be
// reloaded, bookmarked and gone back to without berth serving more than one page.
import { useEffect, useState } from "react";

export type Route =
  | { page: "projects" }
  | { page: "tokens" }
  | { page: "audit" }
  | { page: "project"; id: string }
  | { page: "application"; id: string };

export function parseRoute(hash: string): Route {
  if (hash === "#/tokens") {
    return { page: "tokens" };
  }
  if (hash === "#/audit") {
    return { page: "audit" };
  }
  const m = /^#\/(projects|applications)\/([0-9a-f-]{36})$/.exec(hash);
  if (m === null || m[2] === undefined) {
    return { page: "projects" };
  }
  return m[1] === "projects" ? { page: "project", id: m[2] } : { page: "application", id: m[2] };
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
