// The service health API in the shape of Microsoft Graph's service announcements
// (/admin/serviceAnnouncement/healthOverviews and /issues), so tooling built for Exchange Online
// reads Holdfast as is; plus what an administrator does: open an issue, post, change status.
// Global administrators see everything; a tenant administrator sees the issues of their tenant and
// those affecting everyone, and cannot change them.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { HoldfastError } from '../errors.ts';
import { findComponent } from '../health/components.ts';
import {
  componentHealth,
  graphHealthOverview,
  graphIssue,
  visibleTo,
  type HealthViewer,
} from '../health/graph-shape.ts';
import { openIssueByHand, updateIssue } from '../health/issue-admin.ts';
import type { HealthIssue } from '../health/issue-log.ts';
import type { WebContext } from './web-context.ts';
import { requireAdmin, type AdminIdentity } from './admin-auth.ts';

const base = '/admin/serviceAnnouncement';
const signInHint = 'HTTP Basic (address and password) or Authorization: Bearer <token from `holdfast token create`>';
const graphCodes: Record<number, string> = { 401: 'Unauthorized', 403: 'Forbidden', 429: 'TooManyRequests' };
const historyMs = 30 * 86_400_000;

type Query = Record<string, string | undefined>;
type Body = Record<string, unknown> | undefined;

export function registerServiceHealthRoutes(app: FastifyInstance, holdfast: WebContext) {
  const { health } = holdfast;
  const identify = (request: FastifyRequest, reply: FastifyReply): Promise<AdminIdentity | undefined> =>
    requireAdmin(holdfast, request, reply, {
      realm: 'Holdfast admin',
      body: (status, message) => ({
        error: {
          code: graphCodes[status] ?? 'Unauthorized',
          message: status === 401 ? `${message}: ${signInHint}` : message,
        },
      }),
    });
  const globalOnly = (admin: AdminIdentity, reply: FastifyReply) => {
    if (admin.role === 'global-admin') return true;
    reply.send(graphError(reply, 403, 'Forbidden', 'Only global administrators open, post on or change issues'));
    return false;
  };
  const viewerOf = (admin: AdminIdentity): HealthViewer => ({
    tenant: admin.role === 'tenant-admin' ? (admin.tenant ?? '') : undefined,
  });
  const visible = async (viewer: HealthViewer, options: { since?: number } = {}) =>
    (await health.log.list(options)).filter((i) => visibleTo(i, viewer));

  app.get(`${base}/healthOverviews`, async (request, reply) => {
    const admin = await identify(request, reply);
    if (!admin) return reply;
    const viewer = viewerOf(admin);
    const issues = await visible(viewer, { since: health.now() - historyMs });
    const expand = (request.query as Query).$expand === 'issues';
    return {
      '@odata.context': `${base}/healthOverviews`,
      value: componentHealth(issues).map((c) => graphHealthOverview(c, expand ? issues : undefined, viewer)),
    };
  });

  app.get(`${base}/healthOverviews/:service`, async (request, reply) => {
    const admin = await identify(request, reply);
    if (!admin) return reply;
    const component = findComponent((request.params as { service: string }).service);
    if (!component)
      return graphError(
        reply,
        404,
        'itemNotFound',
        `No service named "${(request.params as { service: string }).service}"; GET ${base}/healthOverviews lists them`,
      );
    const viewer = viewerOf(admin);
    const issues = await visible(viewer, { since: health.now() - historyMs });
    const entry = componentHealth(issues).find((c) => c.id === component.id)!;
    return graphHealthOverview(entry, (request.query as Query).$expand === 'issues' ? issues : undefined, viewer);
  });

  app.get(`${base}/issues`, async (request, reply) => {
    const admin = await identify(request, reply);
    if (!admin) return reply;
    const query = request.query as Query;
    const viewer = viewerOf(admin);
    let shaped = (await visible(viewer)).map((i) => graphIssue(i, viewer));
    if (query.$filter) {
      const filter = parseFilter(query.$filter);
      if (typeof filter === 'string') return graphError(reply, 400, 'BadRequest', filter);
      shaped = shaped.filter((issue) =>
        filter.every(
          ([field, value]) => String((issue as Record<string, unknown>)[field]).toLowerCase() === value.toLowerCase(),
        ),
      );
    }
    const top = Math.min(Math.max(Number(query.$top ?? 100) || 100, 1), 1000);
    const skip = Math.max(Number(query.$skip ?? 0) || 0, 0);
    const page = shaped.slice(skip, skip + top);
    const filterParam = query.$filter ? `$filter=${encodeURIComponent(query.$filter)}&` : '';
    const next =
      skip + top < shaped.length ? `${base}/issues?${filterParam}$top=${top}&$skip=${skip + top}` : undefined;
    return { '@odata.context': `${base}/issues`, value: page, ...(next ? { '@odata.nextLink': next } : {}) };
  });

  app.get(`${base}/issues/:id`, async (request, reply) => {
    const admin = await identify(request, reply);
    if (!admin) return reply;
    const viewer = viewerOf(admin);
    const issue = await health.log.get((request.params as { id: string }).id);
    if (!issue || !visibleTo(issue, viewer))
      return graphError(reply, 404, 'itemNotFound', `No issue ${(request.params as { id: string }).id}`);
    return graphIssue(issue, viewer);
  });

  app.post(`${base}/issues`, async (request, reply) => {
    const admin = await identify(request, reply);
    if (!admin || !globalOnly(admin, reply)) return reply;
    const body = (request.body ?? {}) as Body & {};
    return acting(reply, 201, async () =>
      openIssueByHand(health, {
        component: text(body.service ?? body.component),
        title: text(body.title),
        impact: text(body.impactDescription),
        classification: optionalText(body.classification),
        status: optionalText(body.status),
        feature: optionalText(body.feature),
        message: optionalText(body.message),
        tenants: Array.isArray(body.tenants) ? body.tenants.map(String) : undefined,
        author: admin.address,
      }),
    );
  });

  app.post(`${base}/issues/:id/posts`, async (request, reply) => {
    const admin = await identify(request, reply);
    if (!admin || !globalOnly(admin, reply)) return reply;
    const body = (request.body ?? {}) as Body & {};
    const description = body.description as { content?: unknown } | undefined;
    return acting(reply, 201, async () =>
      updateIssue(health, (request.params as { id: string }).id, {
        message: text(body.message ?? description?.content),
        status: optionalText(body.status),
        postType: optionalText(body.postType),
        author: admin.address,
      }),
    );
  });

  app.patch(`${base}/issues/:id`, async (request, reply) => {
    const admin = await identify(request, reply);
    if (!admin || !globalOnly(admin, reply)) return reply;
    const body = (request.body ?? {}) as Body & {};
    if (typeof body.status !== 'string')
      return graphError(reply, 400, 'BadRequest', 'status is required, e.g. {"status": "restoringService"}');
    return acting(reply, 200, async () =>
      updateIssue(health, (request.params as { id: string }).id, {
        status: body.status as string,
        message: optionalText(body.message),
        author: admin.address,
      }),
    );
  });
}

async function acting(reply: FastifyReply, status: number, work: () => Promise<HealthIssue>) {
  try {
    const issue = await work();
    reply.code(status);
    return graphIssue(issue, {});
  } catch (error) {
    if (error instanceof HoldfastError) return graphError(reply, error.httpStatus, error.code, error.message);
    throw error;
  }
}

function graphError(reply: FastifyReply, status: number, code: string, message: string) {
  reply.code(status);
  return { error: { code, message } };
}

const text = (value: unknown) => (typeof value === 'string' ? value : '');
const optionalText = (value: unknown) => (typeof value === 'string' && value.trim() ? value : undefined);

const filterable = ['id', 'status', 'classification', 'origin', 'service', 'feature', 'featureGroup', 'isResolved'];

/** The part of OData $filter tooling uses here: `field eq 'value'` joined by `and`. */
function parseFilter(filter: string): [string, string][] | string {
  const clauses: [string, string][] = [];
  for (const clause of filter.split(/\s+and\s+/i)) {
    const match = /^\s*(\w+)\s+eq\s+(?:'((?:[^']|'')*)'|(true|false))\s*$/i.exec(clause);
    if (!match || !filterable.includes(match[1]!)) {
      return `$filter "${clause.trim()}" is not supported: use <field> eq '<value>' (joined by "and") with one of ${filterable.join(', ')}`;
    }
    clauses.push([match[1]!, match[2] !== undefined ? match[2].replace(/''/g, "'") : match[3]!]);
  }
  return clauses;
}
