import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import { AlertBadge, ErrorNote, LabelChips, Loading, StatusBadge } from "./ui";

describe("StatusBadge", () => {
  it("colours by the status and says it in words", () => {
    expect(renderToStaticMarkup(<StatusBadge status="invalid_credentials" />))
      .toBe('<span class="badge invalid_credentials">Invalid credentials</span>');
  });

  it("carries a test id only when given one", () => {
    expect(renderToStaticMarkup(<StatusBadge status="connected" testId="status" />))
      .toBe('<span class="badge connected" data-testid="status">Connected</span>');
  });
});

describe("ErrorNote", () => {
  it("is an alert when there is an error, and nothing otherwise", () => {
    expect(renderToStaticMarkup(<ErrorNote text="name: taken" />)).toBe('<p class="error" role="alert">name: taken</p>');
    expect(renderToStaticMarkup(<ErrorNote text={null} />)).toBe("");
    expect(renderToStaticMarkup(<ErrorNote text="" />)).toBe("");
  });
});

describe("Loading", () => {
  it("is a status saying what loads", () => {
    expect(renderToStaticMarkup(<Loading what="instances" />)).toBe('<p class="loading" role="status">Loading instances…</p>');
  });
});

describe("AlertBadge", () => {
  it("colours by the severity or state and says it", () => {
    expect(renderToStaticMarkup(<AlertBadge value="critical" />)).toBe('<span class="badge critical">critical</span>');
  });
});

describe("LabelChips", () => {
  it("shows each label as name=value, and a dash for none", () => {
    expect(renderToStaticMarkup(<LabelChips labels={[["state", "active"]]} />))
      .toBe('<span class="chips"><code class="chip">state=active</code></span>');
    expect(renderToStaticMarkup(<LabelChips labels={[]} />)).toBe('<span class="muted">–</span>');
  });
});
