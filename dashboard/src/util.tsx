import { useCallback, useEffect, useState } from "react";
import { ApiError } from "./api";
import { subscribe } from "./live";

/** Loads `load()` now, again when a live change of one of `kinds` arrives. */
export function useLive<T>(load: () => Promise<T>, kinds: string[], deps: unknown[] = []) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const reload = useCallback(() => {
    load()
      .then((d) => {
        setData(d);
        setError(null);
      })
      .catch((e: unknown) => setError(message(e)));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  useEffect(() => {
    reload();
    return subscribe((c) => {
      if (c.kind === "resync" || kinds.includes(c.kind)) reload();
    });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [reload]);
  return { data, error, reload };
}

export function message(e: unknown): string {
  if (e instanceof ApiError) return e.field ? `${e.field}: ${e.message}` : e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}

/** Re-renders every `ms` (relative times stay true). */
export function useTick(ms: number) {
  const [, setN] = useState(0);
  useEffect(() => {
    const t = window.setInterval(() => setN((n) => n + 1), ms);
    return () => window.clearInterval(t);
  }, [ms]);
}

export function ago(iso: string | null | undefined): string {
  if (!iso) return "never";
  const s = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

export function Loading({ what }: { what: string }) {
  return <p className="loading" role="status">Loading {what}…</p>;
}

export function ErrorNote({ text }: { text: string | null }) {
  return text ? <p className="error" role="alert">{text}</p> : null;
}

export function num(n: number): string {
  return new Intl.NumberFormat().format(Math.round(n));
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
