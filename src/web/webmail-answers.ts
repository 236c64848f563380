// What the web app's small JSON API (/mail/api/…) shares: its answers, never cached, and the
// signed-in session a route needs, with the refusal sent when there is none.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { type WebSessionCheck, type WebSessions, webSessionRequest } from '../directory/web-sessions.ts';

/** A JSON answer of the app's API: never cached. */
export const jsonAnswer = (reply: FastifyReply, status: number, body: unknown) =>
  reply
    .code(status)
    .header('Cache-Control', 'no-store')
    .header('X-Content-Type-Options', 'nosniff')
    .type('application/json; charset=utf-8')
    .send(body);

/**
 * The request's session (its cookie, from this origin, with the CSRF header unless a GET), or
 * undefined once the refusal is sent: 401 without one, 401 or 403 as the session check says.
 */
export async function signedInSession(
  sessions: WebSessions,
  secure: boolean,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<Extract<WebSessionCheck, { ok: true }> | undefined> {
  const found = await sessions.check(webSessionRequest(request, secure));
  if (!found) {
    jsonAnswer(reply, 401, { error: 'unauthorized', message: 'Not signed in' });
    return undefined;
  }
  if (!found.ok) {
    jsonAnswer(reply, found.status, {
      error: found.status === 401 ? 'unauthorized' : 'forbidden',
      message: found.message,
    });
    return undefined;
  }
  return found;
}
