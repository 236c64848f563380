// The web app's settings that JMAP has no method for (docs/webmail.md): the user's own password, app
// tokens and web sessions. Automatic replies and the signature go through JMAP (VacationResponse,
// Identity). Every route needs the session cookie; every one that changes something its CSRF
// header too, and a request from another origin is refused (directory/web-sessions.ts). A user acts
// on their own account only: nothing here names another.
//   POST   /mail/api/password          {currentPassword, newPassword} → 200 (other sessions end)
//   GET    /mail/api/sessions                        → 200 [{handle, createdAt, …, current}]
//   DELETE /mail/api/sessions/{handle}               → 204 (that session ends)
//   POST   /mail/api/sessions/sign-out-others        → 200 {ended}
//   GET    /mail/api/tokens                          → 200 [{id, name, createdAt, lastUsedAt}]
//   POST   /mail/api/tokens            {name, password} → 201 {…, token} (shown once)
//   DELETE /mail/api/tokens/{id}                     → 204
// Checking a password (the current one when changing it, the account's when making an app token)
// goes through the listeners' authenticator, so guesses count in the login limiter like any sign-in.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiTokens } from '../directory/api-tokens.ts';
import type { Principal } from '../directory/principal.ts';
import { OwnWebSessions, type WebSessions } from '../directory/web-sessions.ts';
import { HoldfastError } from '../errors.ts';
import type { HttpLoginRequest, HttpLoginResult } from '../net/http-credentials.ts';
import { maxAppTokens } from '../protocols/jmap/token-routes.ts';
import type { WebContext } from './web-context.ts';
import { jsonAnswer, signedInSession } from './webmail-answers.ts';

const maxPasswordLength = 1024;

export function registerWebmailSettingsRoutes(
  app: FastifyInstance,
  deps: {
    holdfast: WebContext;
    sessions: WebSessions;
    isSecure(request: FastifyRequest): boolean;
    passwords: { authenticate(request: HttpLoginRequest): Promise<HttpLoginResult> };
  },
) {
  const { holdfast } = deps;
  const own = new OwnWebSessions(holdfast.store.db, holdfast.now);
  const tokens = new ApiTokens(holdfast.store.db, holdfast.directory, holdfast.now);

  /** The request's session, or undefined once the refusal is sent. */
  const signedIn = (request: FastifyRequest, reply: FastifyReply) =>
    signedInSession(deps.sessions, deps.isSecure(request), request, reply);

  /** Whether `password` is the principal's, through the authenticator; otherwise the refusal is sent. */
  const passwordHolds = async (
    request: FastifyRequest,
    reply: FastifyReply,
    principal: Principal,
    password: string,
  ) => {
    const result = await deps.passwords.authenticate({
      authorization: `Basic ${Buffer.from(`${principal.address}:${password}`).toString('base64')}`,
      remoteAddress: request.ip ?? 'unknown',
      secure: deps.isSecure(request),
    });
    if (result.ok && result.principal.id === principal.id) return true;
    if (!result.ok && result.retryAfterSeconds) reply.header('Retry-After', String(result.retryAfterSeconds));
    // A wrong password is 403, not 401: the session holds, only the password given was wrong.
    if (result.ok || result.status === 401)
      jsonAnswer(reply, 403, { error: 'wrong-password', message: 'The current password is wrong' });
    else jsonAnswer(reply, result.status, { error: 'refused', message: result.message });
    return false;
  };

  const bodyOf = (request: FastifyRequest) => (request.body ?? {}) as Record<string, unknown>;
  const isPassword = (value: unknown): value is string =>
    typeof value === 'string' && value.length > 0 && value.length <= maxPasswordLength;

  app.post('/mail/api/password', async (request, reply) => {
    const session = await signedIn(request, reply);
    if (!session) return reply;
    const { currentPassword, newPassword } = bodyOf(request);
    if (!isPassword(currentPassword) || !isPassword(newPassword))
      return jsonAnswer(reply, 400, { error: 'invalid', message: 'Give your current password and the new one' });
    if (!(await passwordHolds(request, reply, session.principal, currentPassword))) return reply;
    if (newPassword === currentPassword)
      return jsonAnswer(reply, 400, { error: 'invalid', message: 'The new password is the current one' });
    try {
      await own.changePassword(session.principal, session.id, newPassword);
    } catch (error) {
      if (error instanceof HoldfastError && error.kind === 'invalid')
        return jsonAnswer(reply, 400, { error: error.code, message: capitalised(error.message) });
      throw error;
    }
    // Whoever was kept waiting by guesses may sign in with the new password at once (as `holdfast user passwd`).
    await holdfast.logins.unlock(session.principal.address);
    return jsonAnswer(reply, 200, { passwordChanged: true });
  });

  app.get('/mail/api/sessions', async (request, reply) => {
    const session = await signedIn(request, reply);
    if (!session) return reply;
    const list = await own.list(session.principal, session.id);
    return jsonAnswer(
      reply,
      200,
      list.map((s) => ({
        ...s,
        createdAt: new Date(s.createdAt).toISOString(),
        lastSeenAt: new Date(s.lastSeenAt).toISOString(),
        expiresAt: new Date(s.expiresAt).toISOString(),
      })),
    );
  });

  app.post('/mail/api/sessions/sign-out-others', async (request, reply) => {
    const session = await signedIn(request, reply);
    if (!session) return reply;
    return jsonAnswer(reply, 200, { ended: await own.endOthers(session.principal, session.id) });
  });

  app.delete('/mail/api/sessions/:handle', async (request, reply) => {
    const session = await signedIn(request, reply);
    if (!session) return reply;
    const { handle } = request.params as { handle: string };
    if (!(await own.endOne(session.principal, session.id, handle)))
      return jsonAnswer(reply, 404, {
        error: 'not-found',
        message: 'No such session (sign out of this one with Sign out)',
      });
    return reply.code(204).send();
  });

  const appTokensOf = async (principal: Principal) =>
    (await tokens.list(principal.id)).filter((t) => t.scope === 'jmap');
  const shownToken = (t: { id: number; name: string; createdAt: number; lastUsedAt: number | null }) => ({
    id: String(t.id),
    name: t.name,
    createdAt: new Date(t.createdAt).toISOString(),
    lastUsedAt: t.lastUsedAt === null ? null : new Date(t.lastUsedAt).toISOString(),
  });

  app.get('/mail/api/tokens', async (request, reply) => {
    const session = await signedIn(request, reply);
    if (!session) return reply;
    return jsonAnswer(reply, 200, (await appTokensOf(session.principal)).map(shownToken));
  });

  app.post('/mail/api/tokens', async (request, reply) => {
    const session = await signedIn(request, reply);
    if (!session) return reply;
    const { name, password } = bodyOf(request);
    if (typeof name !== 'string' || !name.trim() || name.length > 100)
      return jsonAnswer(reply, 400, { error: 'invalid', message: 'Name the token (at most 100 characters)' });
    if (!isPassword(password))
      return jsonAnswer(reply, 400, { error: 'invalid', message: 'Give your password to make an app token' });
    // A token outlives the session: making one asks for the password, so a borrowed session cannot.
    if (!(await passwordHolds(request, reply, session.principal, password))) return reply;
    const held = await appTokensOf(session.principal);
    if (held.length >= maxAppTokens)
      return jsonAnswer(reply, 403, {
        error: 'too-many-tokens',
        message: `You have ${held.length} app tokens already: revoke one first`,
      });
    const { token, info } = await tokens.createFor(session.principal, name.trim());
    return jsonAnswer(reply, 201, { ...shownToken(info), token });
  });

  app.delete('/mail/api/tokens/:id', async (request, reply) => {
    const session = await signedIn(request, reply);
    if (!session) return reply;
    const { id } = request.params as { id: string };
    const held = /^[1-9][0-9]{0,14}$/.test(id)
      ? (await appTokensOf(session.principal)).find((t) => t.id === Number(id))
      : undefined;
    if (!held) return jsonAnswer(reply, 404, { error: 'not-found', message: 'No such app token' });
    try {
      await tokens.revoke(held.id, session.principal.id);
    } catch (error) {
      if (error instanceof HoldfastError && error.kind === 'not-found')
        return jsonAnswer(reply, 404, { error: 'not-found', message: 'No such app token' });
      throw error;
    }
    return reply.code(204).send();
  });
}

const capitalised = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);
