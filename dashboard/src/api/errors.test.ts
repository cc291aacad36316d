import { describe, expect, it } from "vitest";
import { ApiError, errorOf, message } from "./errors";

describe("message", () => {
  it("names the field an API error is about", () => {
    expect(message(new ApiError(422, "must be at most 63 characters", "name"))).toBe("name: must be at most 63 characters");
    expect(message(new ApiError(409, "name taken"))).toBe("name taken");
  });

  it("falls back to any error's message, or the thing itself", () => {
    expect(message(new Error("boom"))).toBe("boom");
    expect(message("plain")).toBe("plain");
  });
});

describe("errorOf", () => {
  it("reads the API's error body", async () => {
    const res = new Response(JSON.stringify({ error: { code: "invalid", message: "must be positive", field: "port" } }), { status: 422 });
    const e = await errorOf(res);
    expect([e.status, e.message, e.field]).toEqual([422, "must be positive", "port"]);
  });

  it("says what the server answered when the body is not the API's", async () => {
    const e = await errorOf(new Response("<html>bad gateway</html>", { status: 502, statusText: "Bad Gateway" }));
    expect([e.status, e.message, e.field]).toEqual([502, "The server answered 502 Bad Gateway", undefined]);
  });
});
