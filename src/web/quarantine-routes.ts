// The quarantine over the admin API, for administrators' tools and the admin center: a tenant
// administrator sees and acts on their own tenant's held messages only (another tenant's id is 404,
// as one that does not exist); a global administrator sees all, or one tenant with ?tenant=.
//   GET    /admin/quarantine[?tenant=&user=&reason=&limit=]   held messages, newest first
//   GET    /admin/quarantine/:id                              one, with why it was held
//   GET    /admin/quarantine/:id/message                      the whole message (message/rfc822)
//   POST   /admin/quarantine/:id/release                      into the recipient's INBOX
//   DELETE /admin/quarantine/:id
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { HoldfastError, notFound } from '../errors.ts';
import {
  deleteQuarantined,
  listQuarantine,
  quarantined,
  quarantinedText,
  quarantineScope,
  releaseQuarantined,
  shownEntry,
  type QuarantineScope,
} from '../filtering/quarantine.ts';
import { errorCodes, requireAdmin } from './admin-auth.ts';
import type { WebContext } from './web-context.ts';

const wording = {
  realm: 'Holdfast admin',
  body: (status: number, message: string) => ({ error: { code: errorCodes[status], message } }),
};

export function registerQuarantineRoutes(app: FastifyInstance, holdfast: WebContext) {
  /** The administrator's scope, or undefined when the request was refused (the reply is sent). */
  const scopeOf = async (request: FastifyRequest, reply: FastifyReply): Promise<QuarantineScope | undefined> => {
    const admin = await requireAdmin(holdfast, request, reply, wording);
    if (!admin) return undefined;
    const query = request.query as { tenant?: string; user?: string };
    if (admin.role === 'tenant-admin' && !admin.tenant)
      throw notFound('tenant-not-found', 'no tenant for this administrator');
    return quarantineScope(holdfast.directory, {
      tenant: admin.role === 'tenant-admin' ? admin.tenant : query.tenant,
      user: query.user,
    });
  };
  const handle =
    (work: (scope: QuarantineScope, id: number, request: FastifyRequest, reply: FastifyReply) => Promise<unknown>) =>
    async (request: FastifyRequest, reply: FastifyReply) => {
      try {
        const scope = await scopeOf(request, reply);
        if (!scope) return reply;
        return await work(scope, Number((request.params as { id?: string }).id), request, reply);
      } catch (error) {
        if (!(error instanceof HoldfastError)) throw error;
        return reply.code(error.httpStatus).send({ error: { code: error.code, message: error.message } });
      }
    };

  app.get(
    '/admin/quarantine',
    handle(async (scope, _id, request) => {
      const query = request.query as { reason?: string; limit?: string };
      const limit = Math.min(Number(query.limit) || 100, 1000);
      const entries = await listQuarantine(holdfast.store.db, scope, { reason: query.reason, limit });
      return { value: entries.map(shownEntry) };
    }),
  );
  app.get(
    '/admin/quarantine/:id',
    handle(async (scope, id) => shownEntry(await quarantined(holdfast.store.db, id, scope))),
  );
  app.get(
    '/admin/quarantine/:id/message',
    handle(async (scope, id, _request, reply) => {
      const entry = await quarantined(holdfast.store.db, id, scope);
      return reply.type('message/rfc822').send(await quarantinedText(holdfast.store, entry));
    }),
  );
  app.post(
    '/admin/quarantine/:id/release',
    handle(async (scope, id) => {
      const { entry, uid } = await releaseQuarantined(holdfast.store, id, scope, holdfast.now());
      return { id: entry.id, recipient: entry.recipient, folder: 'INBOX', uid };
    }),
  );
  app.delete(
    '/admin/quarantine/:id',
    handle(async (scope, id) => {
      const entry = await deleteQuarantined(holdfast.store.db, id, scope);
      return { id: entry.id, deleted: true };
    }),
  );
}
