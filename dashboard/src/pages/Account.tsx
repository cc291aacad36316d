import { useState } from "react";
import { api, currentUser, logout } from "../api/client";
import { message } from "../api/errors";
import { ErrorNote } from "../components/ui";

/** The signed-in user's own password. */
export function Account() {
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState(false);
  const user = currentUser();
  return (
    <>
      <h1>Your account</h1>
      <p className="muted">{user?.username} · {user?.role}</p>
      <form
        className="card form"
        aria-label="Change password"
        onSubmit={async (e) => {
          e.preventDefault();
          setError(null);
          try {
            await api("POST", "/auth/change-password", { current_password: current, new_password: next });
            setDone(true);
            // Every session of this user ends with the change: sign in again.
            window.setTimeout(() => logout(), 1500);
          } catch (err) {
            setError(message(err));
          }
        }}
      >
        <h2>Change password</h2>
        <div className="grid">
          <label>Current password<input type="password" autoComplete="current-password" value={current} onChange={(e) => setCurrent(e.target.value)} required /></label>
          <label>New password<input type="password" autoComplete="new-password" value={next} onChange={(e) => setNext(e.target.value)} required /></label>
        </div>
        <ErrorNote text={error} />
        {done && <p className="ok" role="status">Password changed. Sign in again with the new one.</p>}
        <button type="submit">Change password</button>
      </form>
    </>
  );
}
