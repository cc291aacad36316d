// Hash routing from one list of pages (pages/index.ts): the navigation shows the pages a role
// may see, and a path shows the first page that takes it, or the home page (the list's first).
import type { ComponentType } from "react";
import { allows } from "./api/roles";
import type { Role } from "./api/types";

export interface PageProps { params: Record<string, string> }

export interface Page {
  /** `/` (the home page), `/instances` (itself and any path below it), or `/instances/:id`; any of them may carry a query. */
  path: string;
  title: string;
  /** The least role that sees it; anyone else is shown the home page. */
  role: Role;
  /** Whether the main navigation links to it. */
  nav: boolean;
  component: ComponentType<PageProps>;
}

/** An entity id, as the API gives them (a UUID). */
const ID = "[0-9a-f-]{36}";

/** The parameters `path` gives `pattern`, or `null` when it is not that page's. */
export function match(pattern: string, path: string): Record<string, string> | null {
  // A page's own query (`/instances/<id>?tab=history`) is the page's business, not the route's.
  path = path.split("?")[0];
  if (pattern === "/") return path === "/" || path === "" ? {} : null;
  if (!pattern.includes("/:")) return path.startsWith(pattern) ? {} : null;
  const names: string[] = [];
  const re = pattern.replace(/:(\w+)/g, (_, name: string) => {
    names.push(name);
    return `(${ID})`;
  });
  const m = path.match(new RegExp(`^${re}$`));
  return m ? Object.fromEntries(names.map((n, i) => [n, m[i + 1]])) : null;
}

/** The page `path` shows to `role`, and its parameters. */
export function route(pages: readonly Page[], path: string, role: Role): { page: Page; params: Record<string, string> } {
  for (const page of pages) {
    const params = allows(role, page.role) ? match(page.path, path) : null;
    if (params) return { page, params };
  }
  return { page: pages[0], params: {} };
}

/** The pages the main navigation offers `role`, in the list's order. */
export function navigation(pages: readonly Page[], role: Role): Page[] {
  return pages.filter((p) => p.nav && allows(role, p.role));
}

/** Whether a navigation link is the current one: its path, or one below it. */
export function isCurrent(page: Page, path: string): boolean {
  path = path.split("?")[0];
  return page.path === "/" ? path === "/" || path === "" : path.startsWith(page.path);
}
