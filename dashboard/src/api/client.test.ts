import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

// The client keeps its session in module state: each test loads a fresh copy of it, against a
// sessionStorage and a fetch of its own.
const KEY = "pga.session";
const user = { id: "u1", username: "ada", role: "admin" };
let store: Map<string, string>;
let fetched: string[];

function pair(access: string, expiresIn = 900) {
  return { access_token: access, refresh_token: `r-${access}`, token_type: "Bearer", expires_in: expiresIn, user };
}

beforeEach(() => {
  vi.resetModules();
  store = new Map();
  fetched = [];
  vi.stubGlobal("sessionStorage", {
    getItem: (k: string) => store.get(k) ?? null,
    setItem: (k: string, v: string) => void store.set(k, v),
    removeItem: (k: string) => void store.delete(k),
  });
  vi.stubGlobal("fetch", async (url: string, init?: RequestInit) => {
    fetched.push(`${init?.method ?? "GET"} ${url} ${(init?.headers as Record<string, string> | undefined)?.Authorization ?? ""}`.trim());
    if (url === "/api/v1/auth/refresh") return new Response(JSON.stringify(pair("fresh")), { status: 200 });
    return new Response("{}", { status: 200 });
  });
});
afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe("resume after a reload", () => {
  it("uses a kept access token with time left, without a refresh, and says so once", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout"] });
    store.set(KEY, JSON.stringify({ access: "kept", refresh: "r-kept", user, expires: Date.now() + 10 * 60_000 }));
    const client = await import("./client");
    expect(await client.resume()).toBe(true);
    expect(await client.resume()).toBe(true);
    expect(client.accessToken()).toBe("kept");
    expect(client.currentUser()?.username).toBe("ada");
    await client.get("/fleet");
    expect(fetched).toEqual(["GET /api/v1/fleet Bearer kept"]);
    // Two seconds on, off the first requests, the session is checked with a refresh (the role
    // read again; a revoked session signs the tab out).
    await vi.advanceTimersByTimeAsync(2000);
    expect(fetched).toEqual(["GET /api/v1/fleet Bearer kept", "POST /api/v1/auth/refresh"]);
    expect(client.accessToken()).toBe("fresh");
  });

  it("signs the tab out when the check after a reuse finds the session revoked", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout"] });
    vi.stubGlobal("fetch", async (url: string) => {
      fetched.push(url);
      return new Response(JSON.stringify({ error: { message: "revoked" } }), { status: 401 });
    });
    store.set(KEY, JSON.stringify({ access: "kept", refresh: "r-kept", user, expires: Date.now() + 10 * 60_000 }));
    const client = await import("./client");
    expect(await client.resume()).toBe(true);
    await vi.advanceTimersByTimeAsync(2000);
    expect(fetched).toEqual(["/api/v1/auth/refresh"]);
    expect(client.currentUser()).toBeNull();
    expect(store.has(KEY)).toBe(false);
  });

  it("retries a request once with a new pair when the server rejects a kept token (a new signing key)", async () => {
    vi.stubGlobal("fetch", async (url: string, init?: RequestInit) => {
      const auth = (init?.headers as Record<string, string> | undefined)?.Authorization ?? "";
      fetched.push(`${url} ${auth}`.trim());
      if (url === "/api/v1/auth/refresh") return new Response(JSON.stringify(pair("fresh")), { status: 200 });
      return auth === "Bearer fresh" ? new Response("{\"ok\":1}", { status: 200 }) : new Response("{}", { status: 401 });
    });
    store.set(KEY, JSON.stringify({ access: "kept", refresh: "r-kept", user, expires: Date.now() + 10 * 60_000 }));
    const client = await import("./client");
    await client.resume();
    expect(await client.get("/fleet")).toEqual({ ok: 1 });
    expect(fetched).toEqual(["/api/v1/fleet Bearer kept", "/api/v1/auth/refresh", "/api/v1/fleet Bearer fresh"]);
  });

  it("refreshes, once, when the kept token is near its end", async () => {
    store.set(KEY, JSON.stringify({ access: "old", refresh: "r-old", user, expires: Date.now() + 30_000 }));
    const client = await import("./client");
    await Promise.all([client.resume(), client.resume()]);
    expect(fetched).toEqual(["POST /api/v1/auth/refresh"]);
    expect(client.accessToken()).toBe("fresh");
    // What it keeps now is whole: the next reload uses it.
    const kept = JSON.parse(store.get(KEY)!);
    expect(kept.access).toBe("fresh");
    expect(kept.expires).toBeGreaterThan(Date.now() + 800_000);
  });

  it("refreshes a session kept by an older dashboard (no access token)", async () => {
    store.set(KEY, JSON.stringify({ refresh: "r-legacy", user }));
    const client = await import("./client");
    expect(await client.resume()).toBe(true);
    expect(fetched).toEqual(["POST /api/v1/auth/refresh"]);
  });

  it("is signed out with nothing kept, or something unreadable, and asks nothing", async () => {
    for (const kept of [null, "not json", "42", JSON.stringify({ user })]) {
      vi.resetModules();
      if (kept === null) store.delete(KEY);
      else store.set(KEY, kept);
      const client = await import("./client");
      expect(await client.resume()).toBe(false);
      expect(client.currentUser()).toBeNull();
    }
    expect(fetched).toEqual([]);
  });
});
