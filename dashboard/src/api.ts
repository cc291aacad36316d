// The API client: tokens, refresh on 401, errors in the API's own words.

export type Role = "viewer" | "editor" | "admin";
export interface User { id: string; username: string; role: Role }

export class ApiError extends Error {
  constructor(public status: number, message: string, public field?: string) {
    super(message);
  }
}

interface Session { access: string; refresh: string; user: User }

let session: Session | null = null;
const KEY = "pga.session";
const listeners = new Set<() => void>();

function save(s: Session | null) {
  session = s;
  if (s) sessionStorage.setItem(KEY, JSON.stringify({ refresh: s.refresh, user: s.user }));
  else sessionStorage.removeItem(KEY);
  listeners.forEach((l) => l());
}

export function onSessionChange(l: () => void): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}

export function currentUser(): User | null {
  return session?.user ?? null;
}

export function accessToken(): string | null {
  return session?.access ?? null;
}

export function can(role: Role): boolean {
  const order: Role[] = ["viewer", "editor", "admin"];
  const mine = session?.user.role;
  return !!mine && order.indexOf(mine) >= order.indexOf(role);
}

async function errorOf(res: Response): Promise<ApiError> {
  try {
    const body = await res.json();
    const e = body?.error;
    if (e?.message) return new ApiError(res.status, e.message, e.field);
  } catch {
    /* not JSON */
  }
  return new ApiError(res.status, `The server answered ${res.status} ${res.statusText}`);
}

interface TokenPair { access_token: string; refresh_token: string; user: User }

export async function login(username: string, password: string): Promise<void> {
  const res = await fetch("/api/v1/auth/login", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username, password }),
  });
  if (!res.ok) throw await errorOf(res);
  const t: TokenPair = await res.json();
  save({ access: t.access_token, refresh: t.refresh_token, user: t.user });
}

let refreshing: Promise<boolean> | null = null;

async function refresh(): Promise<boolean> {
  const stored = session?.refresh ?? JSON.parse(sessionStorage.getItem(KEY) ?? "null")?.refresh;
  if (!stored) return false;
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
      const t: TokenPair = await res.json();
      save({ access: t.access_token, refresh: t.refresh_token, user: t.user });
      return true;
    } catch {
      return false;
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

/** Restores a session after a reload (the refresh token lives in this tab's sessionStorage). */
export async function resume(): Promise<boolean> {
  return refresh();
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

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
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
  if (res.status === 204) return undefined as T;
  return res.json() as Promise<T>;
}

export const get = <T,>(path: string) => api<T>("GET", path);
