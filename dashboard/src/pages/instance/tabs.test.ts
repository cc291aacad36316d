import { describe, expect, it } from "vitest";
import { tabOf, tabQuery } from "./tabs";

describe("the instance page's tabs", () => {
  it("reads the tab, metrics by default", () => {
    expect(tabOf(new URLSearchParams("tab=tables"))).toBe("tables");
    expect(tabOf(new URLSearchParams("tab=nope"))).toBe("metrics");
    expect(tabOf(new URLSearchParams(""))).toBe("metrics");
  });
  it("links a tab with the range and databases, without the view's own keys", () => {
    const q = new URLSearchParams("tab=tables&range=6h&db=a,b&sort=size&dir=asc&row=a.public.t");
    expect(tabQuery(q, "activity").toString()).toBe("tab=activity&range=6h&db=a%2Cb");
    expect(tabQuery(new URLSearchParams("tab=statements&queryid=1&from=10&to=20"), "metrics").toString()).toBe("from=10&to=20");
  });
});
