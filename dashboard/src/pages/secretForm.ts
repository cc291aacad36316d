// The new-secret form's body. Pure, tested in secretForm.test.ts.
import type { NewRegistrationSecret } from "../api/types";

const DAY_MS = 86400000;

/** The body of `POST /registration-secrets`: limits and bindings only when given. */
export function secretBody(name: string, max: string, days: string, bound: string[], now: number = Date.now()): NewRegistrationSecret {
  const body: NewRegistrationSecret = { name };
  if (max) body.max_registrations = Number(max);
  if (days) body.expires_at = new Date(now + Number(days) * DAY_MS).toISOString();
  if (bound.length) body.instance_ids = bound;
  return body;
}
