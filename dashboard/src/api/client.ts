// The API client: tokens, refresh on 401, errors in the API's own words.
import { ApiError, errorOf } from "./errors";
import { ACTIONS, allows, type Action } from "./roles";
import type { Role, SessionUser, TokenPair } from "./types";

/** `expires`: when the access token stops being accepted, in ms since the epoch. */
interface Session { access: string; refresh: string; user: SessionUser; expires: number }

let session: Session | null = null;
const KEY = "pga.session";
const listeners = new Set<() => void>();

function save(s: Session | null) {
  session = s;
  if (s) sessionStorage.setItem(KEY, JSON.stringify(s));
  else sessionStorage.removeItem(KEY);
  listeners.forEach((l) => l());
}

export function onSessionChange(l: () => void): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}

export function currentUser(): SessionUser | null {
  return session?.user ?? null;
}

export function accessToken(): string | null {
  return session?.access ?? null;
}

/** Whether the signed-in user has at least `role`. */
export function can(role: Role): boolean {
  return allows(session?.user.role, role);
}

/** Whether the signed-in user may do `action` (see `ACTIONS`). */
export function may(action: Action): boolean {
  return can(ACTIONS[action].role);
}

export async function login(username: string, password: string): Promise<void> {
  const res = await fetch("/api/v1/auth/login", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username, password }),
  });
  if (!res.ok) throw await errorOf(res);
  save(sessionOf(await res.json()));
}

function sessionOf(t: TokenPair): Session {
  return { access: t.access_token, refresh: t.refresh_token, user: t.user, expires: Date.now() + t.expires_in * 1000 };
}

let refreshing: Promise<boolean> | null = null;

async function refresh(): Promise<boolean> {
  const stored = session?.refresh ?? kept()?.refresh;
  if (typeof stored !== "string") return false;
  refreshing ??= (async () => {
    try {
      const res = await fetch("/api/v1/auth/refresh", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ refresh_token: stored }),
      });
      if (!res.ok) {
        save(null);
        return false;
      }
      save(sessionOf(await res.json()));
      return true;
    } catch {
      return false;
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

let resumed: Promise<boolean> | null = null;

/** How long after a reload that reused its access token the session is checked with a refresh. */
const RECHECK_AFTER_MS = 2000;

/** An access token this close to its end is not reused after a reload but refreshed. */
const REUSE_MARGIN_MS = 60_000;

/**
 * Restores a session after a reload, once per page load: main.tsx starts it before React has
 * loaded, and the app waits on the same answer (a second refresh would only rotate the token
 * again). The tokens live in this tab's sessionStorage; an access token with more than a minute
 * left is used as it is, so a reload's first request does not wait for a refresh (the refresh
 * token beside it is the stronger secret; the server checks the user on every request either
 * way). Otherwise, and on a 401, the refresh token gets a new pair.
 */
export function resume(): Promise<boolean> {
  if (resumed === null) {
    resumed = restore();
    void resumed.finally(() => (settled = true));
  }
  return resumed;
}

let settled = false;

/** Whether resume() has answered: the app then draws the page at once, not "Loading…" first. */
export function resumeSettled(): boolean {
  return settled;
}

function restore(): Promise<boolean> {
  const stored = storedSession();
  if (stored && stored.expires - Date.now() > REUSE_MARGIN_MS) {
    save(stored);
    // Then, off the page's first requests, a refresh as before: it reads the user's role again
    // and signs the tab out if the session was revoked (a password change, a sign-out elsewhere).
    setTimeout(() => void refresh(), RECHECK_AFTER_MS);
    return Promise.resolve(true);
  }
  return refresh();
}

/** The session this tab kept, if it is whole (one from an older dashboard has no access token). */
function storedSession(): Session | null {
  const s = kept();
  if (s && typeof s.access === "string" && typeof s.refresh === "string" && typeof s.expires === "number" && s.user) {
    return s as Session;
  }
  return null;
}

/** What this tab keeps under KEY, or null when it is nothing readable. */
function kept(): Partial<Session> | null {
  try {
    const s: unknown = JSON.parse(sessionStorage.getItem(KEY) ?? "null");
    return s !== null && typeof s === "object" ? (s as Partial<Session>) : null;
  } catch {
    return null;
  }
}

export async function logout(): Promise<void> {
  const token = session?.access;
  const refreshToken = session?.refresh;
  save(null);
  if (token) {
    await fetch("/api/v1/auth/logout", {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body: JSON.stringify({ refresh_token: refreshToken }),
    }).catch(() => undefined);
  }
}

/** Sends a request with the access token, once more after a refresh on 401; throws when not ok. */
async function send(method: string, path: string, body?: unknown): Promise<Response> {
  const attempt = () =>
    fetch(`/api/v1${path}`, {
      method,
      headers: {
        ...(session ? { Authorization: `Bearer ${session.access}` } : {}),
        ...(body !== undefined ? { "Content-Type": "application/json" } : {}),
      },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
  let res: Response;
  try {
    res = await attempt();
    if (res.status === 401 && (await refresh())) res = await attempt();
  } catch {
    throw new ApiError(0, "The server cannot be reached. Check that pgAnalytics is running.");
  }
  if (res.status === 401) save(null);
  if (!res.ok) throw await errorOf(res);
  return res;
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await send(method, path, body);
  if (res.status === 204) return undefined as T;
  return res.json() as Promise<T>;
}

export const get = <T,>(path: string) => api<T>("GET", path);

/**
 * Fetches an attachment (an export) with the access token, which a plain link cannot send, and
 * hands it to the browser as a download named by its Content-Disposition, or `fallback`.
 */
export async function download(path: string, fallback: string): Promise<void> {
  const res = await send("GET", path);
  const name = attachmentName(res.headers.get("Content-Disposition")) ?? fallback;
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  // The click has started the download; the URL is only needed until then.
  window.setTimeout(() => URL.revokeObjectURL(url), 10000);
}

/** The file name a Content-Disposition header gives (`attachment; filename="a.csv"`), if any. */
export function attachmentName(header: string | null): string | null {
  const m = header?.match(/filename\*?=(?:UTF-8'')?"?([^";]+)"?/i);
  if (!m) return null;
  try {
    return decodeURIComponent(m[1]).replace(/[/\\]/g, "_");
  } catch {
    return m[1];
  }
}
