import { useState } from "react";
import { message } from "../api/errors";
import { statusText } from "../lib/format";

export function Loading({ what }: { what: string }) {
  return <p className="loading" role="status">Loading {what}…</p>;
}

export function ErrorNote({ text }: { text: string | null }) {
  return text ? <p className="error" role="alert">{text}</p> : null;
}

/** A managed instance's connection status; the class gives the colour. */
export function StatusBadge({ status, testId }: { status: string; testId?: string }) {
  return <span className={`badge ${status}`} data-testid={testId}>{statusText(status)}</span>;
}

/** A button that (after an optional confirmation) runs an API call and reports its error. */
export function ActionButton({ label, className, confirm, run, onError }: {
  label: string;
  className?: string;
  confirm?: string;
  run: () => Promise<unknown>;
  onError: (text: string | null) => void;
}) {
  const [busy, setBusy] = useState(false);
  return (
    <button
      className={className}
      disabled={busy}
      onClick={async () => {
        if (confirm && !window.confirm(confirm)) return;
        setBusy(true);
        try {
          await run();
          onError(null);
        } catch (e) {
          onError(message(e));
        } finally {
          setBusy(false);
        }
      }}
    >
      {label}
    </button>
  );
}

/** An alert's severity or state ("critical", "firing", …); the class gives the colour. */
export function AlertBadge({ value }: { value: string }) {
  return <span className={`badge ${value}`}>{value}</span>;
}

/** Labels as `name=value` chips. */
export function LabelChips({ labels }: { labels: [string, string][] }) {
  if (labels.length === 0) return <span className="muted">–</span>;
  return (
    <span className="chips">
      {labels.map(([k, v]) => <code key={k} className="chip">{k}={v}</code>)}
    </span>
  );
}

/** Tabs that are links (`[key, title, href]`), so a tab can be linked to and survives a reload. */
export function Tabs({ label, current, tabs }: { label: string; current: string; tabs: [string, string, string][] }) {
  return (
    <nav className="tabs" aria-label={label}>
      {tabs.map(([key, title, href]) => (
        <a key={key} href={href} aria-current={key === current ? "page" : undefined}>{title}</a>
      ))}
    </nav>
  );
}
