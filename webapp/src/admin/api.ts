// The admin center's client of the admin API (docs/administration.md, "Admin API"), on this origin
// with the web session cookie; requests that change something carry the session's CSRF token.
import { type Me, SignedOut } from '../jmap.ts';

/** A refusal of the API: its code, the field it names (400 invalid-field) and its words. */
export class AdminError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code?: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

/** Calls the admin API: the answer's JSON, or throws AdminError with the server's words (SignedOut on 401). */
// biome-ignore lint/suspicious/noExplicitAny: each route answers its own shape
export async function adminApi(me: Me, method: string, path: string, body?: unknown): Promise<any> {
  const response = await fetch(`/admin/${path}`, {
    method,
    credentials: 'same-origin',
    headers: {
      'X-Holdfast-CSRF': me.csrfToken,
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (response.status === 401) throw new SignedOut('The session has ended: sign in again');
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = answer.error ?? {};
    throw new AdminError(
      error.message ?? `The server answered ${response.status}`,
      response.status,
      error.code,
      error.field,
    );
  }
  return answer;
}

/** A query string of the values that are set. */
export function query(values: Record<string, string | number | boolean | undefined>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(values))
    if (value !== undefined && value !== '') params.set(key, String(value));
  const text = params.toString();
  return text ? `?${text}` : '';
}

/** An ISO time as the browser's local date and time. */
export const when = (iso: string | null | undefined) => (iso ? new Date(iso).toLocaleString() : '—');
