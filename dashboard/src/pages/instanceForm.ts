// The managed-instance form: its fields as typed, and the body they become. Pure, tested in
// instanceForm.test.ts.
import type { Instance, NewInstance } from "../api/types";

export interface FormValue {
  name: string;
  host: string;
  port: string;
  database: string;
  username: string;
  password: string;
  sslmode: string;
  tags: string;
}

export const EMPTY: FormValue = { name: "", host: "", port: "5432", database: "postgres", username: "", password: "", sslmode: "prefer", tags: "" };

/** The form filled in with an instance, to edit it (its password is never sent back). */
export function formOf(i: Instance): FormValue {
  return {
    name: i.name, host: i.host, port: String(i.port), database: i.database,
    username: i.username, password: "", sslmode: i.sslmode, tags: i.tags.join(", "),
  };
}

/**
 * The body of `POST /managed-instances` (new) or `PUT /managed-instances/{id}` (editing).
 * Editing, an empty password keeps the stored one; a new instance without one sends `null`.
 */
export function bodyOf(v: FormValue, editing: boolean): NewInstance {
  const body: NewInstance = {
    name: v.name,
    host: v.host,
    port: Number(v.port),
    database: v.database,
    username: v.username,
    sslmode: v.sslmode,
    tags: v.tags.split(",").map((t) => t.trim()).filter(Boolean),
  };
  if (v.password || !editing) body.password = v.password || null;
  return body;
}
