import { useEffect, useState } from "react";
import { can, currentUser, login, logout, onSessionChange, resume } from "./api";
import { closeLive } from "./live";
import { message } from "./util";
import { Overview } from "./pages/Overview";
import { Instances } from "./pages/Instances";
import { InstanceDetail } from "./pages/InstanceDetail";
import { Collectors } from "./pages/Collectors";
import { Secrets } from "./pages/Secrets";
import { Users } from "./pages/Users";
import { Account } from "./pages/Account";

function useHash(): string {
  const [hash, setHash] = useState(window.location.hash || "#/");
  useEffect(() => {
    const on = () => setHash(window.location.hash || "#/");
    window.addEventListener("hashchange", on);
    return () => window.removeEventListener("hashchange", on);
  }, []);
  return hash;
}

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

const PAGES: { hash: string; label: string; role: "viewer" | "admin" }[] = [
  { hash: "#/", label: "Overview", role: "viewer" },
  { hash: "#/instances", label: "Managed Instances", role: "viewer" },
  { hash: "#/collectors", label: "Active Collectors", role: "viewer" },
  { hash: "#/secrets", label: "Registration Secrets", role: "admin" },
  { hash: "#/users", label: "Users", role: "admin" },
];

export function App() {
  const [, setVersion] = useState(0);
  const [resuming, setResuming] = useState(true);
  const hash = useHash();
  useEffect(() => onSessionChange(() => setVersion((v) => v + 1)), []);
  useEffect(() => {
    resume().finally(() => setResuming(false));
  }, []);
  const user = currentUser();
  if (resuming) return <p className="loading" role="status">Loading…</p>;
  if (!user) {
    closeLive();
    return <Login />;
  }
  const path = hash.slice(1);
  let page;
  const detail = path.match(/^\/instances\/([0-9a-f-]{36})$/);
  if (detail) page = <InstanceDetail id={detail[1]} />;
  else if (path.startsWith("/instances")) page = <Instances />;
  else if (path.startsWith("/collectors")) page = <Collectors />;
  else if (path.startsWith("/secrets") && can("admin")) page = <Secrets />;
  else if (path.startsWith("/users") && can("admin")) page = <Users />;
  else if (path.startsWith("/account")) page = <Account />;
  else page = <Overview />;
  const active = (h: string) => (h === "#/" ? path === "/" || path === "" : path.startsWith(h.slice(1)));
  return (
    <div className="shell">
      <header>
        <a className="brand" href="#/">pgAnalytics</a>
        <nav aria-label="Main">
          {PAGES.filter((p) => can(p.role)).map((p) => (
            <a key={p.hash} href={p.hash} aria-current={active(p.hash) ? "page" : undefined}>
              {p.label}
            </a>
          ))}
        </nav>
        <span className="who">
          <a href="#/account" title="Your account">{user.username}</a> <span className="role">{user.role}</span>
          <button className="link" onClick={() => logout()}>Sign out</button>
        </span>
      </header>
      <main>{page}</main>
    </div>
  );
}
