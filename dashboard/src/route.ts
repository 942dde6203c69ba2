// Where the dashboard is, from the address's fragment (`#/projects/<id>`), so a page can be
// reloaded, bookmarked and gone back to without berth serving more than one page.
import { useEffect, useState } from "react";

export type Route = { page: "projects" } | { page: "project"; id: string };

export function parseRoute(hash: string): Route {
  const m = /^#\/projects\/([0-9a-f-]{36})$/.exec(hash);
  return m !== null && m[1] !== undefined ? { page: "project", id: m[1] } : { page: "projects" };
}

export function href(route: Route): string {
  return route.page === "project" ? `#/projects/${route.id}` : "#/";
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
