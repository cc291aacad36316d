import { describe, expect, it } from "vitest";
import { reloadChain, type Outcome, type Timer } from "./reloadChain";

/** A timer that runs nothing until told: `due` is what waits, with its delay. */
function fakeTimer() {
  const due: { f: () => void; ms: number; cleared: boolean }[] = [];
  const timer: Timer = {
    set: (f, ms) => (due.push({ f, ms, cleared: false }), due.length - 1),
    clear: (h) => { due[h as number].cleared = true; },
  };
  const fire = () => {
    const next = due.find((d) => !d.cleared && d.f);
    if (!next) throw new Error("nothing waits");
    next.cleared = true;
    next.f();
  };
  return { timer, due, waiting: () => due.filter((d) => !d.cleared), fire };
}

/** A load whose answers the test gives, one promise per call. */
function manualLoad<T>() {
  const calls: { resolve: (v: T) => void; reject: (e: unknown) => void }[] = [];
  const load = () => new Promise<T>((resolve, reject) => { calls.push({ resolve, reject }); });
  return { load, calls };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe("reloadChain", () => {
  it("sends the next request only after the previous one answered, never two at once", async () => {
    const t = fakeTimer();
    const { load, calls } = manualLoad<number>();
    const seen: Outcome<number>[] = [];
    reloadChain(load, (o) => seen.push(o), 15000, 5000, t.timer);
    expect(calls).toHaveLength(1);
    // A slow answer: nothing is scheduled while it is out.
    expect(t.waiting()).toHaveLength(0);
    calls[0].resolve(1);
    await tick();
    expect(seen).toEqual([{ ok: true, value: 1 }]);
    expect(t.waiting().map((d) => d.ms)).toEqual([15000]);
    t.fire();
    expect(calls).toHaveLength(2);
    expect(t.waiting()).toHaveLength(0);
  });

  it("drops an answer that comes after the chain was stopped (a newer view's chain took over)", async () => {
    const t = fakeTimer();
    const old = manualLoad<string>();
    const seen: Outcome<string>[] = [];
    const stop = reloadChain(old.load, (o) => seen.push(o), 15000, 5000, t.timer);
    stop();
    const next = manualLoad<string>();
    reloadChain(next.load, (o) => seen.push(o), 15000, 5000, t.timer);
    next.calls[0].resolve("new range");
    await tick();
    old.calls[0].resolve("old range");
    await tick();
    expect(seen).toEqual([{ ok: true, value: "new range" }]);
    // The stopped chain schedules nothing more.
    expect(t.waiting()).toHaveLength(1);
  });

  it("stops a waiting reload", async () => {
    const t = fakeTimer();
    const { load, calls } = manualLoad<number>();
    const stop = reloadChain(load, () => {}, 15000, 5000, t.timer);
    calls[0].resolve(1);
    await tick();
    expect(t.waiting()).toHaveLength(1);
    stop();
    expect(t.waiting()).toHaveLength(0);
  });

  it("hands a failure over and retries it; a fixed range is loaded once when it succeeds", async () => {
    const t = fakeTimer();
    const { load, calls } = manualLoad<number>();
    const seen: Outcome<number>[] = [];
    reloadChain(load, (o) => seen.push(o), null, 5000, t.timer);
    calls[0].reject(new Error("503"));
    await tick();
    expect(seen).toEqual([{ ok: false, error: new Error("503") }]);
    expect(t.waiting().map((d) => d.ms)).toEqual([5000]);
    t.fire();
    calls[1].resolve(7);
    await tick();
    expect(seen[1]).toEqual({ ok: true, value: 7 });
    expect(t.waiting()).toHaveLength(0);
  });
});
