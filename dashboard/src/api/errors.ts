// Errors in the API's own words: `{"error": {"code", "message", "field"?}}`.

export class ApiError extends Error {
  constructor(public status: number, message: string, public field?: string) {
    super(message);
  }
}

/** What to show a person for an error: the API's message, naming the field it is about. */
export function message(e: unknown): string {
  if (e instanceof ApiError) return e.field ? `${e.field}: ${e.message}` : e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}

/** The ApiError of a failed response. */
export async function errorOf(res: Response): Promise<ApiError> {
  try {
    const body = await res.json();
    const e = body?.error;
    if (e?.message) return new ApiError(res.status, e.message, e.field);
  } catch {
    /* not JSON */
  }
  return new ApiError(res.status, `The server answered ${res.status} ${res.statusText}`);
}
