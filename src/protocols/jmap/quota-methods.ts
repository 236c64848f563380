// Quota/get, /changes and /query (RFC 9425): the mailbox quota (mailbox/quota.ts), one Quota object
// of resource type `octets` and scope `account` for the Mail data type, when the principal has a
// quota (`holdfast user set --quota`); none without one. The state is the usage and the limit, so any
// message stored or removed changes it.
import { usedBytes } from '../../mailbox/folders.ts';
import type { JmapCallContext } from './jmap-context.ts';
import { MethodError, invalidArguments } from './jmap-errors.ts';
import type { JmapMethod } from './jmap-request.ts';
import { quotaCapability } from './jmap-sending.ts';
import {
  filterInMemory,
  getIds,
  getProperties,
  parseFilter,
  parseSort,
  queryAnswer,
  queryWindow,
  requireAccount,
} from './method-arguments.ts';

const quotaId = 'mail';
const properties = [
  'id',
  'resourceType',
  'used',
  'hardLimit',
  'scope',
  'name',
  'types',
  'warnLimit',
  'softLimit',
  'description',
] as const;
const knownProperties: ReadonlySet<string> = new Set(properties);

async function quotaNow(context: JmapCallContext) {
  const { principal } = context;
  // The limit as the directory says now (an administrator may have changed it since sign-in).
  const row = await context.mail.db
    .selectFrom('principals')
    .select('quota_bytes')
    .where('id', '=', principal.id)
    .executeTakeFirst();
  const limit = row?.quota_bytes == null ? null : Number(row.quota_bytes);
  const used = await usedBytes(context.mail.db, principal.id);
  const state = `q${used.toString(36)}.${limit === null ? 'n' : limit.toString(36)}`;
  const quota =
    limit === null
      ? undefined
      : {
          id: quotaId,
          resourceType: 'octets',
          used,
          hardLimit: limit,
          scope: 'account',
          name: `${principal.address} mailbox`,
          types: ['Mail'],
          warnLimit: null,
          softLimit: null,
          description: null,
        };
  return { quota, state, used, limit };
}

function parseState(state: unknown): { used: number; limit: number | null } {
  const match = typeof state === 'string' ? /^q([0-9a-z]{1,11})\.(n|[0-9a-z]{1,11})$/.exec(state) : null;
  if (!match) throw new MethodError('cannotCalculateChanges', 'sinceState is not a state this server gave');
  return { used: Number.parseInt(match[1]!, 36), limit: match[2] === 'n' ? null : Number.parseInt(match[2]!, 36) };
}

const quotaGet: JmapMethod<JmapCallContext> = {
  capability: quotaCapability,
  async run(args, context) {
    const accountId = requireAccount(args, context);
    const ids = getIds(args, true);
    const wanted = getProperties(args.properties, knownProperties, properties);
    const { quota, state } = await quotaNow(context);
    const all = quota ? [quota] : [];
    const chosen = ids ? all.filter((q) => ids.includes(q.id)) : all;
    return {
      accountId,
      state,
      list: chosen.map((q) => Object.fromEntries(wanted.map((p) => [p, q[p as keyof typeof q]]))),
      notFound: (ids ?? []).filter((id) => !all.some((q) => q.id === id)),
    };
  },
};

const quotaChanges: JmapMethod<JmapCallContext> = {
  capability: quotaCapability,
  async run(args, context) {
    const accountId = requireAccount(args, context);
    const since = parseState(args.sinceState);
    const now = await quotaNow(context);
    const created = since.limit === null && now.limit !== null ? [quotaId] : [];
    const destroyed = since.limit !== null && now.limit === null ? [quotaId] : [];
    const changed =
      since.limit !== null && now.limit !== null && (since.used !== now.used || since.limit !== now.limit);
    return {
      accountId,
      oldState: args.sinceState,
      newState: now.state,
      hasMoreChanges: false,
      created,
      updated: changed ? [quotaId] : [],
      destroyed,
      updatedProperties: changed && since.limit === now.limit ? ['used'] : null,
    };
  },
};

type Quota = NonNullable<Awaited<ReturnType<typeof quotaNow>>['quota']>;

function quotaCondition(condition: Record<string, unknown>): (q: Quota) => boolean {
  const tests: ((q: Quota) => boolean)[] = [];
  for (const [name, value] of Object.entries(condition)) {
    switch (name) {
      case 'name':
        if (typeof value !== 'string') throw invalidArguments('name must be a string');
        tests.push((q) => q.name === value);
        break;
      case 'scope':
      case 'resourceType':
        if (typeof value !== 'string') throw invalidArguments(`${name} must be a string`);
        tests.push((q) => q[name] === value);
        break;
      case 'type':
        if (typeof value !== 'string') throw invalidArguments('type must be a string');
        tests.push((q) => q.types.includes(value));
        break;
      default:
        throw new MethodError('unsupportedFilter', `Quota/query does not filter by ${name}`);
    }
  }
  return (q) => tests.every((t) => t(q));
}

const quotaQuery: JmapMethod<JmapCallContext> = {
  capability: quotaCapability,
  async run(args, context) {
    const accountId = requireAccount(args, context);
    const filter = parseFilter(args.filter, quotaCondition);
    parseSort(args.sort, new Set(['name', 'used']));
    const window = queryWindow(args);
    const { quota, state } = await quotaNow(context);
    const all = quota ? [quota] : [];
    const kept = await filterInMemory(filter, all);
    return queryAnswer(
      accountId,
      state,
      kept.map((q) => q.id),
      window,
      args,
    );
  },
};

export const quotaMethods: [string, JmapMethod<JmapCallContext>][] = [
  ['Quota/get', quotaGet],
  ['Quota/changes', quotaChanges],
  ['Quota/query', quotaQuery],
];
