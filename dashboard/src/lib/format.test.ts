import { describe, expect, it } from "vitest";
import type { ConnectionTestResult } from "../api/types";
import { ago, bytes, connectionTestNote, duration, fromLocalInput, num, percent, refusedText, statusText, toLocalInput, toMiB, usage, value } from "./format";

const grouped = (n: number) => new Intl.NumberFormat().format(n);

describe("num", () => {
  it("rounds to a whole number and groups digits the locale's way", () => {
    expect(num(12345.6)).toBe(grouped(12346));
    expect(num(0.4)).toBe("0");
    expect(num(2.5)).toBe("3");
  });
});

describe("ago", () => {
  const now = Date.parse("2025-06-01T12:00:00Z");
  const before = (s: number) => new Date(now - s * 1000).toISOString();

  it("says never for no time at all", () => {
    expect(ago(null, now)).toBe("never");
    expect(ago(undefined, now)).toBe("never");
    expect(ago("", now)).toBe("never");
  });

  it("uses the largest whole unit: seconds, minutes, hours, days", () => {
    expect(ago(before(0), now)).toBe("0 s ago");
    expect(ago(before(59), now)).toBe("59 s ago");
    expect(ago(before(60), now)).toBe("1 min ago");
    expect(ago(before(3599), now)).toBe("59 min ago");
    expect(ago(before(3600), now)).toBe("1 h ago");
    expect(ago(before(86399), now)).toBe("23 h ago");
    expect(ago(before(86400 * 3 + 5), now)).toBe("3 d ago");
  });

  it("reads a time a little in the future (a clock ahead) as just now", () => {
    expect(ago(before(-30), now)).toBe("0 s ago");
  });
});

describe("statusText", () => {
  it("names the connection states in words", () => {
    expect(statusText("connected")).toBe("Connected");
    expect(statusText("invalid_credentials")).toBe("Invalid credentials");
    expect(statusText("error")).toBe("Error");
    expect(statusText("unknown")).toBe("Not tested");
    expect(statusText("untested")).toBe("Not tested");
  });

  it("shows a state it does not know with spaces for underscores", () => {
    expect(statusText("tls_required")).toBe("tls required");
    expect(statusText("active")).toBe("active");
  });
});

describe("toMiB", () => {
  it("divides by 2^20", () => {
    expect(toMiB(1048576)).toBe(1);
    expect(toMiB(8 * 1048576 + 524288)).toBe(8.5);
  });
});

describe("connectionTestNote", () => {
  const result = (r: Partial<ConnectionTestResult>): ConnectionTestResult => ({
    success: false, status: "error", latency_ms: null, server_version: null, error: null, tls: null, tested_at: null, ...r,
  });

  it("gives the rounded latency and the server version of a success", () => {
    expect(connectionTestNote(result({ success: true, status: "connected", latency_ms: 12.6, server_version: "17.2" })))
      .toEqual({ ok: true, text: "Connection successful (13 ms, PostgreSQL 17.2)" });
    expect(connectionTestNote(result({ success: true, status: "connected", latency_ms: 3 })))
      .toEqual({ ok: true, text: "Connection successful (3 ms)" });
  });

  it("gives the server's error of a failure, else its status in words", () => {
    expect(connectionTestNote(result({ status: "error", error: "connection refused" })))
      .toEqual({ ok: false, text: "connection refused" });
    expect(connectionTestNote(result({ status: "invalid_credentials" })))
      .toEqual({ ok: false, text: "Invalid credentials" });
  });
});

describe("usage", () => {
  it("shows the limit only when there is one", () => {
    expect(usage(3, 10)).toBe("3 / 10");
    expect(usage(3, null)).toBe("3");
    expect(usage(0, 1)).toBe("0 / 1");
  });
});

describe("refusedText", () => {
  it("counts refused batches and gives the latest reason when known", () => {
    expect(refusedText(2, "instance not bound")).toBe("2 refused: instance not bound");
    expect(refusedText(1234, null)).toBe(`${grouped(1234)} refused`);
  });
});

describe("duration", () => {
  it("uses the largest whole unit", () => {
    expect([0, 45, 90, 300, 3600, 14400, 86400, 5400].map(duration)).toEqual(["0 s", "45 s", "90 s", "5 min", "1 h", "4 h", "1 d", "90 min"]);
  });
});

describe("value", () => {
  it("keeps four significant digits and says none with a dash", () => {
    expect([3, 0.000123456, 1234567, 12.3456].map(value)).toEqual(["3", "0.0001235", "1235000", "12.35"]);
    expect([null, undefined, NaN].map(value)).toEqual(["–", "–", "–"]);
  });
});

describe("bytes", () => {
  it("uses the largest binary unit, with up to 3 significant digits", () => {
    expect(bytes(512)).toBe("512 B");
    expect(bytes(1536)).toBe("1.5 KiB");
    expect(bytes(8 * 1024 ** 3 + 1)).toBe("8 GiB");
    expect(bytes(123456789)).toBe("118 MiB");
  });

  it("shows a dash for no size", () => {
    expect(bytes(null)).toBe("–");
    expect(bytes(Number.NaN)).toBe("–");
  });
});

describe("percent", () => {
  it("shows a ratio as a percentage with one decimal, and a dash for none", () => {
    expect(percent(0.9951)).toBe("99.5 %");
    expect(percent(1)).toBe("100.0 %");
    expect(percent(null)).toBe("–");
  });
});

describe("toLocalInput and fromLocalInput", () => {
  it("go between an instant and a datetime-local value, to the second", () => {
    const ms = new Date(2026, 11, 3, 9, 5, 7).getTime();
    expect(toLocalInput(ms)).toBe("2026-12-03T09:05:07");
    expect(fromLocalInput("2026-12-03T09:05:07")).toBe(ms);
    expect(fromLocalInput("2026-12-03T09:05")).toBe(ms - 7000);
  });

  it("give none for an empty or bad value", () => {
    expect(fromLocalInput("")).toBeNull();
    expect(fromLocalInput("yesterday")).toBeNull();
  });
});
