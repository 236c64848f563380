// What the web app's calendar (docs/webmail.md) needs besides CalDAV: address completion for
// attendees from the user's own tenant, and the tenant's rooms for the room finder. Both need the
// session cookie (a GET: no CSRF header, but a request from another origin is refused) and answer
// only principals of the signed-in user's tenant; free/busy itself goes through CalDAV's
// scheduling outbox.
//   GET /mail/api/directory?q=TEXT → 200 {people: [{address, name, kind}]} (at most 20)
//   GET /mail/api/rooms[?seats=N]  → 200 {rooms: [{address, name, capacity, autoAccept}]}
//                                     (with seats: those known to seat at least N)
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Principal } from '../directory/principal.ts';
import { listRooms, resourceLimits } from '../directory/resource-settings.ts';
import { TenantDirectory } from '../directory/tenant-directory.ts';
import type { WebSessions } from '../directory/web-sessions.ts';
import type { WebContext } from './web-context.ts';
import { jsonAnswer, signedInSession } from './webmail-answers.ts';

/** Completion answers at most this many people; the text typed at most this long. */
export const directoryLimits = { results: 20, queryLength: 100 };

export function registerWebmailCalendarRoutes(
  app: FastifyInstance,
  deps: { holdfast: WebContext; sessions: WebSessions; isSecure(request: FastifyRequest): boolean },
) {
  const { holdfast } = deps;
  const signedIn = async (request: FastifyRequest, reply: FastifyReply): Promise<Principal | undefined> =>
    (await signedInSession(deps.sessions, deps.isSecure(request), request, reply))?.principal;
  const tenantOf = (principal: Principal) => new TenantDirectory(holdfast.store.db, principal.tenantId, holdfast.now);

  app.get('/mail/api/directory', async (request, reply) => {
    const principal = await signedIn(request, reply);
    if (!principal) return reply;
    const q = (request.query as { q?: unknown }).q;
    if (typeof q !== 'string' || !q.trim())
      return jsonAnswer(reply, 400, { error: 'invalid', message: 'Give the start of a name or address in q' });
    if (q.length > directoryLimits.queryLength)
      return jsonAnswer(reply, 400, {
        error: 'invalid',
        message: `q is ${q.length} characters long; at most ${directoryLimits.queryLength} are allowed`,
      });
    const found = await tenantOf(principal).findPrincipals(
      q.trim(),
      ['user', 'shared', 'room', 'equipment', 'group'],
      directoryLimits.results + 1,
    );
    const people = found
      .filter((p) => p.id !== principal.id)
      .slice(0, directoryLimits.results)
      .map((p) => ({ address: p.address, name: p.displayName, kind: p.kind }));
    return jsonAnswer(reply, 200, { people });
  });

  app.get('/mail/api/rooms', async (request, reply) => {
    const principal = await signedIn(request, reply);
    if (!principal) return reply;
    const seats = (request.query as { seats?: unknown }).seats;
    let minCapacity: number | undefined;
    if (seats !== undefined && seats !== '') {
      const n = Number(seats);
      if (typeof seats !== 'string' || !Number.isInteger(n) || n < 1 || n > resourceLimits.capacity.max)
        return jsonAnswer(reply, 400, {
          error: 'invalid',
          message: `seats must be a whole number from 1 to ${resourceLimits.capacity.max}, not "${String(seats).slice(0, 20)}"`,
        });
      minCapacity = n;
    }
    // Each room with its capacity (null when its administrators have not said) and whether it answers by itself.
    const rooms = await listRooms(holdfast.store.db, principal.tenantId, { minCapacity });
    return jsonAnswer(reply, 200, { rooms });
  });
}
