import { useState } from "react";
import { api, currentUser, get } from "../api/client";
import { message } from "../api/errors";
import type { NewUser, Role, User, UserChange } from "../api/types";
import { ActionButton, ErrorNote, Loading } from "../components/ui";
import { useLive } from "../hooks/useLive";
import { ago } from "../lib/format";

export function Users() {
  const { data, error, reload } = useLive(() => get<User[]>("/users"), ["user"]);
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [role, setRole] = useState<Role>("viewer");
  const [note, setNote] = useState<string | null>(null);
  const me = currentUser();
  const change = (id: string, body: UserChange) => api("PUT", `/users/${id}`, body).then(reload);
  return (
    <>
      <h1>Users</h1>
      <form
        className="card form"
        aria-label="New user"
        onSubmit={async (e) => {
          e.preventDefault();
          try {
            const body: NewUser = { username, password, role };
            await api("POST", "/users", body);
            setUsername("");
            setPassword("");
            setNote(null);
            reload();
          } catch (err) {
            setNote(message(err));
          }
        }}
      >
        <h2>New user</h2>
        <div className="grid">
          <label>Username<input value={username} onChange={(e) => setUsername(e.target.value)} required /></label>
          <label>Password<input type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} required /></label>
          <label>Role
            <select value={role} onChange={(e) => setRole(e.target.value as Role)}>
              <option value="viewer">viewer</option><option value="editor">editor</option><option value="admin">admin</option>
            </select>
          </label>
        </div>
        <button type="submit">Create user</button>
      </form>
      <ErrorNote text={note ?? error} />
      {data === null ? <Loading what="users" /> : (
        <div className="scroll">
          <table>
            <thead><tr><th>User</th><th>Role</th><th>State</th><th>Last login</th><th><span className="sr">Actions</span></th></tr></thead>
            <tbody>
              {data.map((u) => (
                <tr key={u.id}>
                  <td>{u.username}</td>
                  <td>
                    <select aria-label={`Role of ${u.username}`} value={u.role} disabled={u.id === me?.id}
                      onChange={(e) => change(u.id, { role: e.target.value as Role }).then(() => setNote(null), (err) => setNote(message(err)))}>
                      <option value="viewer">viewer</option><option value="editor">editor</option><option value="admin">admin</option>
                    </select>
                  </td>
                  <td>{u.active ? "active" : "deactivated"}</td>
                  <td>{ago(u.last_login_at)}</td>
                  <td className="actions">
                    <ActionButton
                      label="Reset password"
                      className="secondary"
                      run={async () => {
                        const password = window.prompt(`New password for ${u.username} (their sessions end):`);
                        if (password) await api("POST", `/users/${u.id}/reset-password`, { password });
                      }}
                      onError={setNote}
                    />
                    {u.id !== me?.id && (
                      <ActionButton
                        label={u.active ? "Deactivate" : "Reactivate"}
                        className={u.active ? "danger" : "secondary"}
                        run={() => change(u.id, { active: !u.active })}
                        onError={setNote}
                      />
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
