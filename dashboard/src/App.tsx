import { Suspense, useEffect, useState } from "react";
import { currentUser, login, logout, onSessionChange, resume, resumeSettled } from "./api/client";
import { message } from "./api/errors";
import { PageBoundary } from "./components/PageBoundary";
import { closeLive } from "./api/live";
import { useHash } from "./hooks/useHash";
import { PAGES } from "./pages";
import { isCurrent, navigation, route } from "./router";

function Login() {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  return (
    <main className="login">
      <form
        className="card"
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          setError(null);
          try {
            await login(username, password);
          } catch (err) {
            setError(message(err));
          } finally {
            setBusy(false);
          }
        }}
      >
        <h1>pgAnalytics</h1>
        <label>
          Username
          <input name="username" autoComplete="username" value={username} onChange={(e) => setUsername(e.target.value)} required autoFocus />
        </label>
        <label>
          Password
          <input name="password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} required />
        </label>
        {error && <p className="error" role="alert">{error}</p>}
        <button type="submit" disabled={busy}>{busy ? "Signing in…" : "Sign in"}</button>
      </form>
    </main>
  );
}

export function App() {
  const [, setVersion] = useState(0);
  // main.tsx started the restore before this module loaded; it has usually answered by now.
  const [resuming, setResuming] = useState(() => !resumeSettled());
  const hash = useHash();
  useEffect(() => onSessionChange(() => setVersion((v) => v + 1)), []);
  useEffect(() => {
    // Started by main.tsx before this module had loaded; the same answer here.
    resume().finally(() => setResuming(false));
  }, []);
  const user = currentUser();
  if (resuming) return <p className="loading" role="status">Loading…</p>;
  if (!user) {
    closeLive();
    return <Login />;
  }
  const path = hash.slice(1);
  const { page, params } = route(PAGES, path, user.role);
  const Page = page.component;
  return (
    <div className="shell">
      <header>
        <a className="brand" href="#/">pgAnalytics</a>
        <nav aria-label="Main">
          {navigation(PAGES, user.role).map((p) => (
            <a key={p.path} href={`#${p.path}`} aria-current={isCurrent(p, path) ? "page" : undefined}>
              {p.title}
            </a>
          ))}
        </nav>
        <span className="who">
          <a href="#/account" title="Your account">{user.username}</a> <span className="role">{user.role}</span>
          <button className="link" onClick={() => logout()}>Sign out</button>
        </span>
      </header>
      <main>
        {/* Pages other than the overview load on first use (pages/index.ts); a failure stays in its page. */}
        <PageBoundary at={path.split("?")[0]}>
          <Suspense fallback={<p className="loading" role="status">Loading…</p>}>
            <Page params={params} />
          </Suspense>
        </PageBoundary>
      </main>
    </div>
  );
}
