import { describe, expect, it } from "vitest";
import type { Channel } from "../api/alerting";
import { channelSpec, channelTarget, EMPTY_CHANNEL, withEnabled } from "./channelForm";

describe("channelSpec", () => {
  it("sends a webhook's secret only when one is typed", () => {
    expect(channelSpec({ ...EMPTY_CHANNEL, name: "ops", url: "https://hooks.example.com/x", secret: "k" })).toEqual({
      name: "ops", min_severity: "warning", enabled: true, kind: "webhook", url: "https://hooks.example.com/x", secret: "k",
    });
    expect(channelSpec({ ...EMPTY_CHANNEL, name: "ops", url: "https://hooks.example.com/x" })).not.toHaveProperty("secret");
  });

  it("builds an Alertmanager channel from its URL alone", () => {
    expect(channelSpec({ ...EMPTY_CHANNEL, kind: "alertmanager", name: "am", url: "http://am:9093", secret: "ignored" })).toEqual({
      name: "am", min_severity: "warning", enabled: true, kind: "alertmanager", url: "http://am:9093",
    });
  });

  it("splits an email channel's recipients and leaves out an untyped password", () => {
    expect(channelSpec({
      ...EMPTY_CHANNEL, kind: "email", name: "mail", host: "smtp.example.com", port: "465", tls: "tls",
      from: "pga@example.com", to: "a@example.com, b@example.com;c@example.com", username: "",
    })).toEqual({
      name: "mail", min_severity: "warning", enabled: true, kind: "email", host: "smtp.example.com", port: 465, tls: "tls",
      from: "pga@example.com", to: ["a@example.com", "b@example.com", "c@example.com"], username: null,
    });
  });

  it("says what is missing", () => {
    expect(channelSpec({ ...EMPTY_CHANNEL, url: "https://x" })).toBe("Name: is required");
    expect(channelSpec({ ...EMPTY_CHANNEL, name: "w", url: "hooks.example.com" })).toBe("URL: must start with http:// or https://");
    const mail = { ...EMPTY_CHANNEL, kind: "email" as const, name: "m", host: "h", from: "a@b" };
    expect(channelSpec(mail)).toBe("To: at least one address");
    expect(channelSpec({ ...mail, to: "nobody" })).toBe('To: "nobody" is not an email address');
    expect(channelSpec({ ...mail, to: "x@y", port: "0" })).toBe("Port: must be 1 to 65535");
  });
});

describe("withEnabled", () => {
  it("changes only enabled and sends no secret, so the stored one stays", () => {
    const c: Channel = {
      id: "1", name: "ops", min_severity: "critical", enabled: true, kind: "webhook", url: "https://x", has_secret: true, created_at: "",
    };
    expect(withEnabled(c, false)).toEqual({ name: "ops", min_severity: "critical", enabled: false, kind: "webhook", url: "https://x" });
    expect(channelTarget(c)).toBe("https://x");
  });
});
