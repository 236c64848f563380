// The arguments every standard method shares (RFC 8620 5.1-5.5), checked once: the account, the
// ids of a /get with the object limit, properties, sinceState and maxChanges, position and limit,
// the create/update/destroy of a /set and its ifInState.
import { invalidArguments, MethodError } from './jmap-errors.ts';
import { parseAccountId } from './jmap-ids.ts';
import { jmapLimits, maxChangesLimit, maxFilterDepth, maxQueryLimit } from './jmap-limits.ts';
import type { JmapCallContext } from './jmap-context.ts';
import { decodeState } from './jmap-state.ts';

export function requireAccount(args: Record<string, unknown>, context: JmapCallContext): string {
  const { accountId } = args;
  if (typeof accountId !== 'string') throw invalidArguments('accountId is required');
  if (parseAccountId(accountId) !== context.principal.id)
    throw new MethodError('accountNotFound', `no account ${accountId} for ${context.principal.address}`);
  return accountId;
}

/** The ids of a /get (null: all, for types small enough), refused past maxObjectsInGet. */
export function getIds(args: Record<string, unknown>, allAllowed: boolean): string[] | null {
  const { ids } = args;
  if (ids === undefined || ids === null) {
    if (!allAllowed) throw new MethodError('requestTooLarge', 'ids must be given for this type');
    return null;
  }
  if (!Array.isArray(ids) || !ids.every((id) => typeof id === 'string'))
    throw invalidArguments('ids must be an array of ids or null');
  if (ids.length > jmapLimits.maxObjectsInGet)
    throw new MethodError('requestTooLarge', `at most ${jmapLimits.maxObjectsInGet} ids in one /get`);
  return [...new Set(ids as string[])];
}

/** The list and notFound of a /get (RFC 8620 5.1): the objects of the ids asked for (all when null), in that order. */
export async function getList<T>(
  ids: string[] | null,
  byId: ReadonlyMap<string, T>,
  render: (item: T) => Record<string, unknown> | Promise<Record<string, unknown>>,
) {
  const list: Record<string, unknown>[] = [];
  const notFound: string[] = [];
  for (const id of ids ?? [...byId.keys()]) {
    const item = byId.get(id);
    if (item === undefined) notFound.push(id);
    else list.push(await render(item));
  }
  return { list, notFound };
}

/** The properties asked for (the defaults when none), refused when one is not known. */
export function getProperties(
  value: unknown,
  known: ReadonlySet<string>,
  defaults: readonly string[],
  what = 'properties',
): string[] {
  if (value === undefined || value === null) return [...defaults];
  if (!Array.isArray(value) || !value.every((p) => typeof p === 'string'))
    throw invalidArguments(`${what} must be an array of property names`);
  const unknown = value.filter((p) => !known.has(p));
  if (unknown.length) throw invalidArguments(`unknown ${what}: ${unknown.join(', ')}`);
  // The id is always returned (RFC 8620 5.1).
  return [...new Set(what === 'properties' ? ['id', ...(value as string[])] : (value as string[]))];
}

/** A list of ids (an argument other than a /get's `ids`: blobIds, emailIds), bounded by maxObjectsInGet. */
export function idList(args: Record<string, unknown>, name: string, what: string, method: string): string[] {
  const value = args[name];
  if (!Array.isArray(value) || !value.every((id) => typeof id === 'string'))
    throw invalidArguments(`${name} must be a list of ${what} ids`);
  if (value.length > jmapLimits.maxObjectsInGet)
    throw new MethodError('requestTooLarge', `at most ${jmapLimits.maxObjectsInGet} ${what}s in one ${method}`);
  return value as string[];
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** create, update and destroy of a /set (RFC 8620 5.3), checked in shape and refused past maxObjectsInSet. */
export function setArguments(args: Record<string, unknown>) {
  const create = args.create ?? {};
  const update = args.update ?? {};
  const destroy = args.destroy ?? [];
  if (!isObject(create)) throw invalidArguments('create must be an object');
  if (!isObject(update)) throw invalidArguments('update must be an object');
  if (!Array.isArray(destroy) || !destroy.every((id) => typeof id === 'string'))
    throw invalidArguments('destroy must be a list of ids');
  if (Object.keys(create).length + Object.keys(update).length + destroy.length > jmapLimits.maxObjectsInSet)
    throw new MethodError('requestTooLarge', `at most ${jmapLimits.maxObjectsInSet} objects in one /set`);
  return { create, update, destroy: destroy as string[] };
}

/** ifInState (RFC 8620 5.3): the call is refused when `what` (its objects) has moved on from that state. */
export function requireInState(args: Record<string, unknown>, state: string, what: string): void {
  if (args.ifInState !== undefined && args.ifInState !== null && args.ifInState !== state)
    throw new MethodError('stateMismatch', `ifInState is not the current state of ${what}: it has changed since`);
}

export function maxChanges(args: Record<string, unknown>): number {
  const { maxChanges } = args;
  if (maxChanges === undefined || maxChanges === null) return maxChangesLimit;
  if (typeof maxChanges !== 'number' || !Number.isInteger(maxChanges) || maxChanges < 1)
    throw invalidArguments('maxChanges must be a positive integer');
  return Math.min(maxChanges, maxChangesLimit);
}

/** The arguments of a /changes: the account, the folders of sinceState, and how many changes to answer. */
export function changesArguments(args: Record<string, unknown>, context: JmapCallContext) {
  const accountId = requireAccount(args, context);
  const since = decodeState(args.sinceState);
  if (!since) throw new MethodError('cannotCalculateChanges', 'sinceState is not a state this server gave');
  return { accountId, since, limit: maxChanges(args) };
}

export function unsignedInt(args: Record<string, unknown>, name: string, fallback: number): number {
  const value = args[name];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0)
    throw invalidArguments(`${name} must be an unsigned integer`);
  return value;
}

/** position, anchor and limit of a /query (RFC 8620 5.5); limit lowered to maxQueryLimit. */
export function queryWindow(args: Record<string, unknown>) {
  const position = args.position ?? 0;
  if (typeof position !== 'number' || !Number.isInteger(position))
    throw invalidArguments('position must be an integer');
  const requested = unsignedInt(args, 'limit', maxQueryLimit);
  const anchor = args.anchor ?? null;
  if (anchor !== null && typeof anchor !== 'string') throw invalidArguments('anchor must be an id');
  const anchorOffset = args.anchorOffset ?? 0;
  if (typeof anchorOffset !== 'number' || !Number.isInteger(anchorOffset))
    throw invalidArguments('anchorOffset must be an integer');
  return {
    position,
    limit: Math.min(requested, maxQueryLimit),
    limited: requested > maxQueryLimit,
    anchor,
    anchorOffset,
  };
}

/** One page of sorted ids (RFC 8620 5.5: a negative position counts from the end; an anchor wins over position). */
export function pageOf(ids: string[], window: ReturnType<typeof queryWindow>) {
  let start: number;
  if (window.anchor !== null) {
    const at = ids.indexOf(window.anchor);
    if (at === -1) throw new MethodError('anchorNotFound', `${window.anchor} is not in the results`);
    start = Math.max(0, at + window.anchorOffset);
  } else start = window.position < 0 ? Math.max(0, ids.length + window.position) : window.position;
  return { position: Math.min(start, ids.length), ids: ids.slice(start, start + window.limit) };
}

/** The answer of a /query (RFC 8620 5.5) for all matching ids in order; queryChanges is not served. */
export function queryAnswer(
  accountId: string,
  state: string,
  sortedIds: string[],
  window: ReturnType<typeof queryWindow>,
  args: Record<string, unknown>,
) {
  const page = pageOf(sortedIds, window);
  return {
    accountId,
    queryState: state,
    canCalculateChanges: false,
    position: page.position,
    ids: page.ids,
    ...(args.calculateTotal === true ? { total: sortedIds.length } : {}),
    ...(window.limited ? { limit: window.limit } : {}),
  };
}

export type Filter<C> = { operator: 'AND' | 'OR' | 'NOT'; conditions: Filter<C>[] } | { condition: C };

/** A FilterOperator tree (RFC 8620 5.5) with its conditions checked by `condition`, bounded in depth. */
export function parseFilter<C>(
  value: unknown,
  condition: (c: Record<string, unknown>) => C,
  depth = 0,
): Filter<C> | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) throw invalidArguments('filter must be an object');
  if (depth > maxFilterDepth) throw new MethodError('unsupportedFilter', `filters nest at most ${maxFilterDepth} deep`);
  const record = value as Record<string, unknown>;
  if ('operator' in record) {
    const { operator, conditions } = record;
    if (operator !== 'AND' && operator !== 'OR' && operator !== 'NOT')
      throw invalidArguments('operator must be AND, OR or NOT');
    if (!Array.isArray(conditions)) throw invalidArguments('a FilterOperator needs conditions');
    return { operator, conditions: conditions.map((c) => parseFilter(c, condition, depth + 1)!) };
  }
  return { condition: condition(record) };
}

/** The items a filter keeps: each condition decides over all items at once (bulk, so lookups are shared). */
export async function applyFilter<T, C>(
  filter: Filter<C> | undefined,
  items: T[],
  matches: (condition: C, items: T[]) => Promise<Set<T>>,
): Promise<Set<T>> {
  if (!filter) return new Set(items);
  if ('condition' in filter) return matches(filter.condition, items);
  const parts: Set<T>[] = [];
  for (const c of filter.conditions) parts.push(await applyFilter(c, items, matches));
  if (filter.operator === 'AND') return new Set(items.filter((i) => parts.every((p) => p.has(i))));
  if (filter.operator === 'OR') return new Set(items.filter((i) => parts.some((p) => p.has(i))));
  return new Set(items.filter((i) => !parts.some((p) => p.has(i))));
}

/** What a filter of predicate conditions keeps of objects held in memory, in their order. */
export async function filterInMemory<T>(filter: Filter<(item: T) => boolean> | undefined, items: T[]): Promise<T[]> {
  const kept = await applyFilter(filter, items, async (test, all) => new Set(all.filter(test)));
  return items.filter((item) => kept.has(item));
}

export interface Comparator {
  property: string;
  isAscending: boolean;
  /** For the keyword sorts of Email/query (RFC 8621 4.4.2). */
  keyword?: string;
}

export function parseSort(value: unknown, supported: ReadonlySet<string>): Comparator[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw invalidArguments('sort must be an array of comparators');
  if (value.length > 8) throw new MethodError('unsupportedSort', 'at most 8 comparators');
  return value.map((c) => {
    if (typeof c !== 'object' || c === null || typeof c.property !== 'string')
      throw invalidArguments('a comparator needs a property');
    if (!supported.has(c.property))
      throw new MethodError(
        'unsupportedSort',
        `sorting by ${c.property} is not supported (${[...supported].join(', ')})`,
      );
    if (c.collation !== undefined && c.collation !== 'i;unicode-casemap')
      throw new MethodError('unsupportedSort', `collation ${c.collation} is not supported`);
    return {
      property: c.property,
      isAscending: c.isAscending !== false,
      ...(c.keyword !== undefined ? { keyword: c.keyword } : {}),
    };
  });
}
