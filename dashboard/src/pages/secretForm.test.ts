import { describe, expect, it } from "vitest";
import { secretBody } from "./secretForm";

describe("secretBody", () => {
  const now = Date.parse("2025-06-01T12:00:00Z");

  it("sends only the name when nothing else is given", () => {
    expect(secretBody("eu-west", "", "", [], now)).toEqual({ name: "eu-west" });
  });

  it("turns days into an expiry time and keeps limit and bindings", () => {
    expect(secretBody("eu-west", "5", "2", ["a", "b"], now)).toEqual({
      name: "eu-west", max_registrations: 5, expires_at: "2025-06-03T12:00:00.000Z", instance_ids: ["a", "b"],
    });
  });
});
