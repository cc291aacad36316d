export interface Instance {
  id: string;
  name: string;
  host: string;
  port: number;
  database: string;
  username: string;
  sslmode: string;
  connect_timeout_s: number;
  tags: string[];
  has_password: boolean;
  last_connection_status: string;
  last_error: string | null;
  last_tested_at: string | null;
  latency_ms: number | null;
}

export interface Collector {
  id: string;
  name: string;
  hostname: string;
  version: string;
  status: string;
  registered_at: string;
  last_seen: string | null;
  metrics_count_total: number;
  metrics_count_24h: number;
  batches_total: number;
  last_instance: string | null;
  rejected_batches: number;
  /** Managed instances it may report; empty: none. */
  instance_ids: string[];
  last_rejected_reason: string | null;
}

export interface Series {
  labels: Record<string, string>;
  counter: boolean;
  points: [number, number][];
}

export interface SeriesAnswer { metric: string; series: Series[] }

export function statusText(s: string): string {
  switch (s) {
    case "connected": return "Connected";
    case "invalid_credentials": return "Invalid credentials";
    case "error": return "Error";
    case "unknown":
    case "untested": return "Not tested";
    default: return s.replace(/_/g, " ");
  }
}
