// The notification-channel form and the ChannelSpec it becomes; secrets are write-only. Pure,
// tested in channelForm.test.ts.
import type { Channel, ChannelKind, ChannelSpec, Severity, TlsMode } from "../api/alerting";

export interface ChannelForm {
  name: string;
  min_severity: Severity;
  enabled: boolean;
  kind: ChannelKind;
  url: string;
  /** The webhook's HMAC key: sent when typed, never shown. */
  secret: string;
  host: string;
  port: string;
  tls: TlsMode;
  from: string;
  /** Recipients, separated by commas or spaces. */
  to: string;
  username: string;
  password: string;
}

export const EMPTY_CHANNEL: ChannelForm = {
  name: "", min_severity: "warning", enabled: true, kind: "webhook", url: "", secret: "",
  host: "", port: "587", tls: "starttls", from: "", to: "", username: "", password: "",
};

const HTTP = /^https?:\/\/[^\s/]+/;

/** The body of `POST /notification-channels`, or what is wrong with the form. */
export function channelSpec(f: ChannelForm): ChannelSpec | string {
  const common = { name: f.name.trim(), min_severity: f.min_severity, enabled: f.enabled };
  if (!common.name) return "Name: is required";
  switch (f.kind) {
    case "alertmanager":
    case "webhook": {
      const url = f.url.trim();
      if (!HTTP.test(url)) return "URL: must start with http:// or https://";
      if (f.kind === "alertmanager") return { ...common, kind: "alertmanager", url };
      return f.secret ? { ...common, kind: "webhook", url, secret: f.secret } : { ...common, kind: "webhook", url };
    }
    case "email": {
      const port = Number(f.port);
      if (!f.host.trim()) return "SMTP host: is required";
      if (!Number.isInteger(port) || port < 1 || port > 65535) return "Port: must be 1 to 65535";
      if (!f.from.includes("@")) return "From: must be an email address";
      const to = f.to.split(/[\s,;]+/).filter(Boolean);
      if (to.length === 0) return "To: at least one address";
      const bad = to.find((a) => !a.includes("@"));
      if (bad) return `To: "${bad}" is not an email address`;
      return {
        ...common, kind: "email", host: f.host.trim(), port, tls: f.tls, from: f.from.trim(), to,
        username: f.username.trim() || null,
        ...(f.password ? { password: f.password } : {}),
      };
    }
  }
}

/** A stored channel as a PUT body that changes only `enabled` (no secret: the stored one stays). */
export function withEnabled(c: Channel, enabled: boolean): ChannelSpec {
  const common = { name: c.name, min_severity: c.min_severity, enabled };
  switch (c.kind) {
    case "alertmanager": return { ...common, kind: "alertmanager", url: c.url };
    case "webhook": return { ...common, kind: "webhook", url: c.url };
    case "email": return { ...common, kind: "email", host: c.host, port: c.port, tls: c.tls, from: c.from, to: c.to, username: c.username };
  }
}

/** Where a channel sends, in words. */
export function channelTarget(c: Channel): string {
  return c.kind === "email" ? `${c.to.join(", ")} via ${c.host}:${c.port}` : c.url;
}
