import { describe, expect, it } from "vitest";
import { afterLoad, fresh, shownFor, viewKey } from "./chartState";

const hour = { key: "1h", from: 1000, to: 4600 };
const day = { key: "24h", from: 1000, to: 87400 };

describe("a reloading chart", () => {
  it("shows nothing of the previous range once the range changes, until the new lines come", () => {
    const a = viewKey(["tps", "top"], hour);
    const b = viewKey(["tps", "top"], day);
    const s = afterLoad(fresh<string>(a), a, { ok: true, value: "last hour's lines" });
    expect(shownFor(s, b)).toEqual({ view: b, drawn: null, error: null });
  });

  it("shows the error, not the previous mode's lines, when the new mode's load fails", () => {
    const total = viewKey(["tps", "total"], hour);
    const top = viewKey(["tps", "top"], hour);
    const s = afterLoad(fresh<string>(total), total, { ok: true, value: "the total" });
    expect(afterLoad(s, top, { ok: false, error: "503: the server is busy" })).toEqual({ view: top, drawn: null, error: "503: the server is busy" });
  });

  it("keeps the lines of the same view when a periodic refresh fails, with the error beside them, and clears the error on success", () => {
    const v = viewKey(["tps", "top", "shop"], hour);
    const loaded = afterLoad(fresh<string>(v), v, { ok: true, value: "lines" });
    const failed = afterLoad(loaded, v, { ok: false, error: "timed out" });
    expect(failed).toEqual({ view: v, drawn: "lines", error: "timed out" });
    expect(afterLoad(failed, v, { ok: true, value: "newer lines" })).toEqual({ view: v, drawn: "newer lines", error: null });
  });

  it("keys a moving range by its length (its ends move every render) and a fixed one by its ends", () => {
    expect(viewKey(["tps"], hour)).toBe(viewKey(["tps"], { key: "1h", from: 2000, to: 5600 }));
    expect(viewKey(["tps"], { key: "custom", from: 1, to: 2 })).not.toBe(viewKey(["tps"], { key: "custom", from: 1, to: 3 }));
    expect(viewKey(["tps", "pick", "a,b"], hour)).not.toBe(viewKey(["tps", "pick", "a"], hour));
  });
});
