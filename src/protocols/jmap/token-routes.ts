// The app token endpoint: a user makes, lists and revokes their own JMAP app tokens, signed in with
// their password (HTTP Basic: a token never makes or lists tokens). JMAP has no standard method for
// this; `holdfast token create --scope jmap <address>` does the same for an administrator.
//   POST   /jmap/tokens        {"name": "phone"}  → 201 {id, name, scope, createdAt, token}  (shown once)
//   GET    /jmap/tokens                          → 200 [{id, name, scope, createdAt, lastUsedAt}]
//   DELETE /jmap/tokens/{id}                     → 204 (refused at once from then on)
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiTokens } from '../../directory/api-tokens.ts';
import type { Directory, Principal } from '../../directory/directory.ts';
import { HoldfastError } from '../../errors.ts';
import type { Store } from '../../store/store.ts';
import type { JmapSignIn } from './jmap-auth.ts';

export const tokensPath = '/jmap/tokens';
/** App tokens one principal may hold: enough for every device, bounded. */
export const maxAppTokens = 50;

export function registerTokenRoutes(
  scope: FastifyInstance,
  deps: {
    store: Store;
    directory: Directory;
    now(): number;
    /** HTTP Basic sign-in (the password): bearer tokens are refused here. */
    passwords: JmapSignIn;
    secure: boolean;
  },
) {
  const tokens = new ApiTokens(deps.store.db, deps.directory, deps.now);
  const problem = (reply: FastifyReply, status: number, detail: string) =>
    reply.code(status).type('application/problem+json; charset=utf-8').send({ type: 'about:blank', status, detail });

  const signIn = async (request: FastifyRequest, reply: FastifyReply): Promise<Principal | undefined> => {
    if (!/^Basic\s/i.test(request.headers.authorization ?? '')) {
      reply.header('WWW-Authenticate', 'Basic realm="Holdfast", charset="UTF-8"');
      problem(reply, 401, 'App tokens are managed with the account password (HTTP Basic), not with a token');
      return undefined;
    }
    const auth = await deps.passwords.authenticate({
      authorization: request.headers.authorization,
      remoteAddress: request.ip ?? 'unknown',
      secure: deps.secure || request.protocol === 'https',
    });
    if (auth.ok) return auth.principal;
    if (auth.status === 401) reply.header('WWW-Authenticate', 'Basic realm="Holdfast", charset="UTF-8"');
    if (auth.retryAfterSeconds) reply.header('Retry-After', String(auth.retryAfterSeconds));
    problem(reply, auth.status, auth.message);
    return undefined;
  };

  const shown = (t: { id: number; name: string; scope: string; createdAt: number; lastUsedAt: number | null }) => ({
    id: String(t.id),
    name: t.name,
    scope: t.scope,
    createdAt: new Date(t.createdAt).toISOString(),
    lastUsedAt: t.lastUsedAt === null ? null : new Date(t.lastUsedAt).toISOString(),
  });

  scope.post(tokensPath, async (request, reply) => {
    const principal = await signIn(request, reply);
    if (!principal) return reply;
    let name = 'app';
    const body = typeof request.body === 'string' ? request.body.trim() : '';
    if (body) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(body);
      } catch {
        return problem(reply, 400, 'The body is not JSON: send {"name": "…"} or nothing');
      }
      const given = (parsed as { name?: unknown } | null)?.name;
      if (given !== undefined && (typeof given !== 'string' || given.length > 100))
        return problem(reply, 400, 'name must be a string of at most 100 characters');
      if (typeof given === 'string' && given.trim()) name = given.trim();
    }
    const own = (await tokens.list(principal.id)).filter((t) => t.scope === 'jmap');
    if (own.length >= maxAppTokens)
      return problem(reply, 403, `${principal.address} has ${own.length} app tokens already: revoke one first`);
    const { token, info } = await tokens.createFor(principal, name);
    return reply
      .code(201)
      .header('Cache-Control', 'no-store')
      .type('application/json; charset=utf-8')
      .send({ ...shown(info), token });
  });

  scope.get(tokensPath, async (request, reply) => {
    const principal = await signIn(request, reply);
    if (!principal) return reply;
    const own = (await tokens.list(principal.id)).filter((t) => t.scope === 'jmap');
    return reply.type('application/json; charset=utf-8').send(own.map(shown));
  });

  scope.delete(`${tokensPath}/:id`, async (request, reply) => {
    const principal = await signIn(request, reply);
    if (!principal) return reply;
    const { id } = request.params as { id: string };
    if (!/^[1-9][0-9]{0,14}$/.test(id)) return problem(reply, 404, 'No such app token');
    const own = (await tokens.list(principal.id)).find((t) => t.id === Number(id) && t.scope === 'jmap');
    if (!own) return problem(reply, 404, 'No such app token');
    try {
      await tokens.revoke(own.id, principal.id);
    } catch (error) {
      if (error instanceof HoldfastError && error.kind === 'not-found') return problem(reply, 404, 'No such app token');
      throw error;
    }
    return reply.code(204).send();
  });
}
