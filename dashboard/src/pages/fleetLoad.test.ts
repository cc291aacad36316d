import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

// fleetLoad keeps the early request in module state: a fresh copy per test, with a fetch that
// answers when the test says.
let requests: number;
let answer: (() => void)[];

beforeEach(() => {
  vi.resetModules();
  requests = 0;
  answer = [];
  vi.stubGlobal("sessionStorage", { getItem: () => null, setItem: () => undefined, removeItem: () => undefined });
  vi.stubGlobal("fetch", () => {
    const n = ++requests;
    return new Promise<Response>((resolve) => answer.push(() => resolve(new Response(JSON.stringify({ generated_at: `answer ${n}`, instances: [] })))));
  });
});
afterEach(() => vi.unstubAllGlobals());

const settle = () => new Promise((r) => setTimeout(r, 0));

describe("the overview's early request", () => {
  it("once answered, is the first render's data, once; the next load asks again", async () => {
    const f = await import("./fleetLoad");
    f.prefetchFleet();
    f.prefetchFleet(); // a second start is the same request
    answer.shift()!();
    await settle();
    expect(f.takeEarlyAnswer()?.generated_at).toBe("answer 1");
    expect(f.takeEarlyAnswer()).toBeNull();
    const next = f.loadFleet();
    answer.shift()!();
    expect((await next).generated_at).toBe("answer 2");
    expect(requests).toBe(2);
  });

  it("still on its way, is what the first load waits for, not a second request", async () => {
    const f = await import("./fleetLoad");
    f.prefetchFleet();
    expect(f.takeEarlyAnswer()).toBeNull();
    const first = f.loadFleet();
    answer.shift()!();
    expect((await first).generated_at).toBe("answer 1");
    expect(requests).toBe(1);
    // Taken by that load: not offered again.
    expect(f.takeEarlyAnswer()).toBeNull();
  });

  it("is not used when older than 5 s", async () => {
    const now = Date.now();
    vi.spyOn(Date, "now").mockReturnValue(now);
    const f = await import("./fleetLoad");
    f.prefetchFleet();
    answer.shift()!();
    await settle();
    vi.spyOn(Date, "now").mockReturnValue(now + 6000);
    expect(f.takeEarlyAnswer()).toBeNull();
    const fresh = f.loadFleet();
    answer.shift()!();
    expect((await fresh).generated_at).toBe("answer 2");
    vi.restoreAllMocks();
  });
});
