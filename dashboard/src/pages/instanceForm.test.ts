import { describe, expect, it } from "vitest";
import type { Instance } from "../api/types";
import { bodyOf, EMPTY, formOf } from "./instanceForm";

const filled = { ...EMPTY, name: "db1", host: "db1.internal", port: "6432", username: "monitor", tags: " prod, ,eu " };

describe("bodyOf", () => {
  it("sends the port as a number and the tags as a trimmed list", () => {
    expect(bodyOf(filled, false)).toEqual({
      name: "db1", host: "db1.internal", port: 6432, database: "postgres", username: "monitor",
      sslmode: "prefer", tags: ["prod", "eu"], password: null,
    });
  });

  it("sends a password when one is typed", () => {
    expect(bodyOf({ ...filled, password: "s3cret" }, true).password).toBe("s3cret");
    expect(bodyOf({ ...filled, password: "s3cret" }, false).password).toBe("s3cret");
  });

  it("leaves the stored password alone when editing without typing one", () => {
    expect("password" in bodyOf(filled, true)).toBe(false);
  });
});

describe("formOf", () => {
  it("fills the form from an instance, never with a password", () => {
    const i: Instance = {
      id: "0190a4b2-7c1e-7d3a-9f00-123456789abc", name: "db1", host: "h", port: 5433, database: "app",
      username: "u", sslmode: "require", connect_timeout_s: 5, tags: ["prod", "eu"], has_password: true,
      last_connection_status: "connected", last_error: null, last_tested_at: null, latency_ms: null,
      server_version: null, last_heartbeat: null, last_tls: null, created_at: "", updated_at: "",
    };
    expect(formOf(i)).toEqual({
      name: "db1", host: "h", port: "5433", database: "app", username: "u", password: "", sslmode: "require", tags: "prod, eu",
    });
  });
});
