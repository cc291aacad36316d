import { describe, expect, it } from "vitest";
import { attachmentName } from "../api/client";
import { dayOf, dayRange, exportName, filtersOf, NO_FILTERS, queryOf, resourceLink } from "./auditQuery";

describe("filtersOf and queryOf", () => {
  it("keep the set filters in the query, in a fixed order, and read them back", () => {
    const f = { ...NO_FILTERS, to: "2026-12-03T23:59:59.999Z", actor: "editor-e2e", aggregate_type: "managed_instance" };
    const q = queryOf(f);
    expect(q).toBe("actor=editor-e2e&aggregate_type=managed_instance&to=2026-12-03T23%3A59%3A59.999Z");
    expect(filtersOf(q)).toEqual(f);
  });

  it("leave out empty filters and ignore unknown keys", () => {
    expect(queryOf({ ...NO_FILTERS, actor: "  " })).toBe("");
    expect(filtersOf("nonsense=1&event_type=UserCreated")).toEqual({ ...NO_FILTERS, event_type: "UserCreated" });
  });

  it("add the paging parameters after the filters", () => {
    expect(queryOf({ ...NO_FILTERS, actor: "bob" }, { limit: "100", before: "c1" })).toBe("actor=bob&limit=100&before=c1");
  });
});

describe("dayRange and dayOf", () => {
  it("cover the whole local day, to the last millisecond", () => {
    const day = dayRange("2026-12-03")!;
    expect(new Date(day.from).getTime()).toBe(new Date(2026, 11, 3).getTime());
    expect(new Date(day.to).getTime()).toBe(new Date(2026, 11, 4).getTime() - 1);
    expect(dayOf(day)).toBe("2026-12-03");
  });

  it("give no day for a range that is not one whole day, or a bad date", () => {
    expect(dayRange("03/12/2026")).toBeNull();
    expect(dayOf({ from: new Date(2026, 11, 3, 1).toISOString(), to: new Date(2026, 11, 3, 2).toISOString() })).toBe("");
    expect(dayOf({ from: "", to: "" })).toBe("");
  });
});

describe("exportName", () => {
  it("names the file by its range, without characters file systems refuse", () => {
    expect(exportName({ ...NO_FILTERS, from: "2026-12-03T00:00:00.000Z", to: "2026-12-03T23:59:59.999Z" }, "csv"))
      .toBe("audit-2026-12-03T000000000Z-2026-12-03T235959999Z.csv");
    expect(exportName(NO_FILTERS, "jsonl")).toBe("audit-start-now.jsonl");
  });
});

describe("attachmentName", () => {
  it("takes the file name from a Content-Disposition header", () => {
    expect(attachmentName('attachment; filename="audit-2026.csv"')).toBe("audit-2026.csv");
    expect(attachmentName("attachment; filename=audit.jsonl")).toBe("audit.jsonl");
    expect(attachmentName("attachment; filename*=UTF-8''a%20b.csv")).toBe("a b.csv");
  });

  it("gives none without one, and no path", () => {
    expect(attachmentName(null)).toBeNull();
    expect(attachmentName("attachment")).toBeNull();
    expect(attachmentName('attachment; filename="../x.csv"')).toBe(".._x.csv");
  });
});

describe("resourceLink", () => {
  it("links instances, collectors, alerts and rules to their pages, and nothing else", () => {
    expect(resourceLink("managed_instance", "i1")).toBe("#/instances/i1");
    expect(resourceLink("collector", "c1")).toBe("#/collectors/c1");
    expect(resourceLink("alert_rule", "r1")).toBe("#/rules?rule=r1");
    expect(resourceLink("user", "u1")).toBeNull();
  });
});
