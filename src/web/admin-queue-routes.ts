// The queue and message trace over the admin API (docs/administration.md, "Admin API"), through
// flow/queue/queue-admin.ts (what `holdfast queue` does) and flow/queue/tenant-queue.ts (what a
// tenant administrator may see: their tenant's messages and recipients; another tenant's message is
// 404). Times are ISO 8601.
//   GET  /admin/queue[?tenant=&domain=&state=&all=&offset=&limit=]   {offset, limit, more, value}
//   GET  /admin/queue/{id}                                         envelope, recipients, trace
//   POST /admin/queue/{id}/retry|hold|release|bounce
//   GET  /admin/trace?sender=&recipient=&messageId=&since=&until=&limit=
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { DirectoryAdmin } from '../directory/directory-admin.ts';
import { parseDomain } from '../directory/names.ts';
import type { MailFlow } from '../flow/mail-flow.ts';
import { QueueAdmin, type QueueEntry } from '../flow/queue/queue-admin.ts';
import { queueStates } from '../flow/queue/queue.ts';
import { requireActionable, searchTrace, type QueueViewer, visibleRecipients } from '../flow/queue/tenant-queue.ts';
import type { AdminIdentity } from './admin-auth.ts';
import { adminRoute, asField, FieldError, Fields, paging } from './admin-api.ts';
import type { WebContext } from './web-context.ts';

const iso = (ms: number | null | undefined) =>
  ms === null || ms === undefined ? null : new Date(Number(ms)).toISOString();

const shownEntry = (e: QueueEntry) => ({
  messageId: e.messageId,
  recipientId: e.recipientId,
  sender: e.sender,
  recipient: e.recipient,
  domain: e.domain,
  state: e.state,
  held: e.held,
  attempts: e.attempts,
  receivedAt: iso(e.receivedAt),
  nextAttemptAt: iso(e.nextAttemptAt),
  lastReply: e.lastReply,
  size: e.size,
  subject: e.subject,
});

const shownEvent = ({ at, ...rest }: { at: number; [key: string]: unknown }) => ({ at: iso(at), ...rest });

export function registerAdminQueueRoutes(
  app: FastifyInstance,
  holdfast: WebContext & { flow: Pick<MailFlow, 'queue' | 'newMail'> },
) {
  const db = holdfast.store.db;
  const queueAdmin = new QueueAdmin(db, holdfast.flow.queue, holdfast.now);

  /** Whose queue the administrator sees: a tenant administrator their own; a global one all, or ?tenant=. */
  const viewerOf = async (admin: AdminIdentity, tenant?: string): Promise<QueueViewer> => {
    if (admin.role === 'global-admin' && !tenant) return {};
    const [found] = await new DirectoryAdmin(holdfast.directory, admin).tenants(tenant ?? admin.tenant ?? '');
    return { tenantId: found!.id };
  };
  const idOf = (request: FastifyRequest) => {
    const id = (request.params as { id: string }).id;
    if (!/^[1-9]\d{0,14}$/.test(id)) throw new FieldError('id', `"${id}" is not a message id`);
    return Number(id);
  };

  app.get(
    '/admin/queue',
    adminRoute(holdfast, async (admin, request) => {
      const query = new Fields(request.query, ['tenant', 'domain', 'state', 'all', 'offset', 'limit']);
      const page = paging(query);
      const domain = query.text('domain', { max: 255 });
      const filter = {
        domain: domain ? asField('domain', () => parseDomain(domain)) : undefined,
        state: query.choice('state', queueStates),
        all: query.boolean('all'),
        ...(await viewerOf(admin, query.text('tenant', { max: 100 }) || undefined)),
      };
      const entries = await queueAdmin.list(filter, page.offset + page.limit + 1);
      return {
        ...page,
        more: entries.length > page.offset + page.limit,
        value: entries.slice(page.offset, page.offset + page.limit).map(shownEntry),
      };
    }),
  );

  app.get(
    '/admin/queue/:id',
    adminRoute(holdfast, async (admin, request) => {
      const id = idOf(request);
      const { ids } = await visibleRecipients(db, id, await viewerOf(admin));
      const shown = await queueAdmin.show(id);
      return {
        ...shown,
        receivedAt: iso(shown.receivedAt),
        recipients: shown.recipients.filter((r) => ids.has(r.recipientId)).map(shownEntry),
        trace: shown.trace
          .filter((e) => e.recipientId === null || ids.has(e.recipientId))
          .map(({ recipientId: _, ...e }) => shownEvent(e)),
      };
    }),
  );

  const actions = {
    retry: async (id: number) => ({ retried: await queueAdmin.retry({ messageId: id }) }),
    hold: async (id: number) => {
      await queueAdmin.hold(id);
      return { held: true };
    },
    release: async (id: number) => {
      await queueAdmin.release(id);
      return { held: false };
    },
    bounce: async (id: number) => ({ bounced: await queueAdmin.bounce(id) }),
  };
  for (const [verb, act] of Object.entries(actions)) {
    app.post(
      `/admin/queue/:id/${verb}`,
      adminRoute(holdfast, async (admin, request) => {
        const id = idOf(request);
        new Fields(request.body, []);
        await requireActionable(db, id, await viewerOf(admin));
        const done = await act(id);
        // The queue role picks retried and released mail up at once, not at its next poll.
        holdfast.flow.newMail.raise();
        return { messageId: id, ...done };
      }),
    );
  }

  app.get(
    '/admin/trace',
    adminRoute(holdfast, async (admin, request) => {
      const query = new Fields(request.query, ['sender', 'recipient', 'messageId', 'since', 'until', 'limit']);
      const search = {
        sender: query.text('sender', { max: 320 }) || undefined,
        recipient: query.text('recipient', { max: 320 }) || undefined,
        messageId: query.text('messageId', { max: 1000 }) || undefined,
        since: query.time('since'),
        until: query.time('until'),
        limit: query.integer('limit', 1, 500, 50),
      };
      if (!search.sender && !search.recipient && !search.messageId && search.since === undefined)
        throw new FieldError('query', 'give at least one of sender, recipient, messageId, since');
      const messages = await searchTrace(db, search, await viewerOf(admin));
      return {
        value: messages.map((m) => ({ ...m, receivedAt: iso(m.receivedAt), events: m.events.map(shownEvent) })),
      };
    }),
  );
}
