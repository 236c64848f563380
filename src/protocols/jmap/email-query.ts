// Email/query (RFC 8621 4.4): the messages of the principal's folders, from the folder index IMAP's
// SELECT and SEARCH read (kept up to date by MODSEQ), filtered with SEARCH's own header and body
// text tests (the header condition also reads the lines Holdfast added on receipt, which Email/get
// shows as part of the header: message-prefixes.ts), sorted by any of RFC 8621's sort properties
// (email-sort.ts). collapseThreads keeps the first Email of each thread in that order; the thread
// keyword filters look at every Email of the thread in the account (the folder indexes of all its
// folders, read only when a filter asks).
//
// The common query — one Mailbox (inMailbox), perhaps with keyword conditions, by receivedAt — is
// read from the folder index's arrival order (INTERNALDATE, then UID) without sorting or copying:
// the page is picked from that order's newest or oldest end. Ties in a sort are broken by folder and
// UID in the direction of the first comparator, so the descending order is the ascending one
// reversed. Every query can be brought up to date by Email/queryChanges (email-query-changes.ts),
// which is told what the results depend on (QueryDependence).
import type { Folder } from '../../mailbox/folders.ts';
import type { IndexedMessage } from '../../mailbox/folder-index.ts';
import { collapsedByThread } from './collapsed-threads.ts';
import { loadComputingMissing, loadMetadata } from '../../mailbox/message-metadata.ts';
import { prefixesNaming } from '../../mailbox/message-prefixes.ts';
import { fieldContains, toSearchHeaders, type SearchHeaders } from '../../mailbox/search-headers.ts';
import { decodeEncodedWords } from '../../message/encoded-words.ts';
import { parseHeaderLines } from '../../message/mime-tree.ts';
import type { JmapCallContext } from './jmap-context.ts';
import { MethodError, invalidArguments } from './jmap-errors.ts';
import { emailId, parseEmailId, parseMailboxId } from './jmap-ids.ts';
import { mailCapability, type JmapMethod } from './jmap-request.ts';
import { flagOf, isKeyword } from './keywords.ts';
import { accountFolders } from './mail-folders.ts';
import {
  checkEmailSort,
  emailComparison,
  emailSortProperties,
  sortsByFixedProperties,
  sortsByThread,
} from './email-sort.ts';
import {
  applyFilter,
  parseFilter,
  parseSort,
  queryWindow,
  requireAccount,
  type Comparator,
} from './method-arguments.ts';

interface Candidate {
  folderId: number;
  message: IndexedMessage;
}

/** The flags of each thread's Emails over the whole account, read once per call when a filter needs them. */
type ThreadFlags = () => Promise<Map<number, string[][]>>;

type Condition = Record<string, unknown>;

const textFields = ['from', 'to', 'cc', 'bcc', 'subject'] as const;

/** A header field name (RFC 5322 2.2): printable ASCII but the colon. */
const fieldName = /^[\x21-\x39\x3b-\x7e]+$/;

function checkCondition(condition: Condition): Condition {
  for (const [name, value] of Object.entries(condition)) {
    switch (name) {
      case 'inMailbox':
        if (parseMailboxId(value) === undefined) throw invalidArguments('inMailbox must be a Mailbox id');
        break;
      case 'inMailboxOtherThan':
        if (!Array.isArray(value) || !value.every((v) => parseMailboxId(v) !== undefined))
          throw invalidArguments('inMailboxOtherThan must be a list of Mailbox ids');
        break;
      case 'before':
      case 'after':
        if (typeof value !== 'string' || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(value))
          throw invalidArguments(`${name} must be a UTCDate (2026-12-06T10:00:00Z)`);
        break;
      case 'minSize':
      case 'maxSize':
        if (typeof value !== 'number' || !Number.isInteger(value) || value < 0)
          throw invalidArguments(`${name} must be an unsigned integer`);
        break;
      case 'hasKeyword':
      case 'notKeyword':
      case 'allInThreadHaveKeyword':
      case 'someInThreadHaveKeyword':
      case 'noneInThreadHaveKeyword':
        if (typeof value !== 'string' || !isKeyword(value)) throw invalidArguments(`${name} must be a keyword`);
        break;
      case 'text':
      case 'body':
      case 'from':
      case 'to':
      case 'cc':
      case 'bcc':
      case 'subject':
        if (typeof value !== 'string') throw invalidArguments(`${name} must be a string`);
        break;
      case 'header':
        if (!Array.isArray(value) || value.length < 1 || value.length > 2 || !value.every((v) => typeof v === 'string'))
          throw invalidArguments('header must be [name] or [name, text]');
        if (!fieldName.test(value[0] as string))
          throw invalidArguments(`header: "${value[0]}" is not a header field name (printable ASCII without ":")`);
        break;
      default:
        throw new MethodError('unsupportedFilter', `Email/query does not filter by ${name} yet`);
    }
  }
  return condition;
}

function hasFlag(message: IndexedMessage, keyword: string) {
  const flag = flagOf(keyword).toLowerCase();
  return message.flags.some((f) => f.toLowerCase() === flag);
}

const threadKeywordTests: Record<string, (flagSets: string[][], flag: string) => boolean> = {
  allInThreadHaveKeyword: (sets, flag) => sets.every((flags) => flags.some((f) => f.toLowerCase() === flag)),
  someInThreadHaveKeyword: (sets, flag) => sets.some((flags) => flags.some((f) => f.toLowerCase() === flag)),
  noneInThreadHaveKeyword: (sets, flag) => !sets.some((flags) => flags.some((f) => f.toLowerCase() === flag)),
};

async function matching(
  context: JmapCallContext,
  threadFlags: ThreadFlags,
  condition: Condition,
  items: Candidate[],
): Promise<Set<Candidate>> {
  const { mail } = context;
  let kept = items;
  const needle = (name: string) => condition[name] as string;
  // Cheap tests first, so the costly ones see fewer messages.
  for (const [name, value] of Object.entries(condition)) {
    if (name === 'inMailbox') kept = kept.filter((c) => c.folderId === parseMailboxId(value));
    if (name === 'inMailboxOtherThan') {
      const others = new Set((value as string[]).map(parseMailboxId));
      kept = kept.filter((c) => !others.has(c.folderId));
    }
    if (name === 'before') kept = kept.filter((c) => c.message.internalDate < Date.parse(value as string));
    if (name === 'after') kept = kept.filter((c) => c.message.internalDate >= Date.parse(value as string));
    if (name === 'minSize') kept = kept.filter((c) => c.message.size >= (value as number));
    if (name === 'maxSize') kept = kept.filter((c) => c.message.size < (value as number));
    if (name === 'hasKeyword') kept = kept.filter((c) => hasFlag(c.message, value as string));
    if (name === 'notKeyword') kept = kept.filter((c) => !hasFlag(c.message, value as string));
    const threadTest = threadKeywordTests[name];
    if (threadTest) {
      const threads = await threadFlags();
      const flag = flagOf(value as string).toLowerCase();
      kept = kept.filter((c) => threadTest(threads.get(c.message.threadId) ?? [c.message.flags], flag));
    }
  }
  const fields = textFields.filter((f) => condition[f] !== undefined);
  const header = condition.header as [string, string?] | undefined;
  if (fields.length || condition.text !== undefined || header) {
    const hashes = kept.map((c) => c.message.blobHash);
    const headers = await loadComputingMissing(mail, hashes, (some) => mail.index.searchHeaders.load(mail.db, some));
    const headerOf = new Map<Candidate, SearchHeaders | undefined>(kept.map((c, i) => [c, headers[i]]));
    for (const field of fields) {
      const test = fieldContains(field, needle(field));
      kept = kept.filter((c) => test(headerOf.get(c)));
    }
    if (condition.text !== undefined) {
      const inHeaders = textFields.map((f) => fieldContains(f, needle('text')));
      const inBody = await bodyMatches(context, kept, needle('text'));
      kept = kept.filter((c) => inBody.has(c.message.blobHash) || inHeaders.some((test) => test(headerOf.get(c))));
    }
    if (header) {
      // The Email's header is the lines Holdfast added on receipt and the content's own (as Email/get
      // shows it): the content's first, from memory, then the added lines of the messages still out.
      const test = fieldContains(header[0], header[1] ?? '');
      const inContent = new Set(kept.filter((c) => test(headerOf.get(c))));
      const inPrefix = await prefixMatches(
        context,
        kept.filter((c) => !inContent.has(c)),
        header[0],
        test,
      );
      kept = kept.filter((c) => inContent.has(c) || inPrefix.has(c));
    }
  }
  if (condition.body !== undefined) {
    const inBody = await bodyMatches(context, kept, needle('body'));
    kept = kept.filter((c) => inBody.has(c.message.blobHash));
  }
  return new Set(kept);
}

/**
 * The candidates whose header lines added on receipt (the row's prefix) pass `test`: read per folder
 * in batches, only the prefixes that name the field (messages APPENDed or imported have none).
 */
async function prefixMatches(
  context: JmapCallContext,
  items: Candidate[],
  name: string,
  test: (headers: SearchHeaders | undefined) => boolean,
): Promise<Set<Candidate>> {
  const byFolder = new Map<number, Candidate[]>();
  for (const c of items) {
    const list = byFolder.get(c.folderId);
    if (list) list.push(c);
    else byFolder.set(c.folderId, [c]);
  }
  const found = new Set<Candidate>();
  for (const [folderId, list] of byFolder) {
    const byUid = new Map(list.map((c) => [c.message.uid, c]));
    for await (const batch of prefixesNaming(context.mail, folderId, [...byUid.keys()], name))
      for (const { uid, prefix } of batch) if (test(prefixHeaders(prefix))) found.add(byUid.get(uid)!);
  }
  return found;
}

/** A prefix's fields as SEARCH compares them: values unfolded and decoded (as the content's are kept). */
function prefixHeaders(prefix: string): SearchHeaders {
  const lines = parseHeaderLines(Buffer.from(prefix, 'utf8').toString('latin1'));
  return toSearchHeaders(
    lines.map(([name, value]) => [name, decodeEncodedWords(value)]),
    null,
  );
}

function bodyMatches(context: JmapCallContext, items: Candidate[], needle: string): Promise<Set<string>> {
  const { mail } = context;
  const source = {
    blobs: mail.blobs,
    structures: (some: string[]) =>
      loadComputingMissing(mail, some, (them) => mail.index.structures.load(mail.db, them)),
  };
  return mail.index.bodyTexts.containing(
    source,
    needle,
    items.map((c) => c.message.blobHash),
    'body',
  );
}

const threadConditions = new Set(Object.keys(threadKeywordTests));

/** The folder a filter keeps to: a top-level inMailbox, or one among the conditions of a top-level AND. */
function onlyFolder(filter: unknown): number | undefined {
  if (typeof filter !== 'object' || filter === null) return undefined;
  if (!('operator' in filter)) return parseMailboxId((filter as Condition).inMailbox);
  const { operator, conditions } = filter as { operator: unknown; conditions: unknown };
  if (operator !== 'AND' || !Array.isArray(conditions)) return undefined;
  for (const c of conditions) {
    const folderId =
      typeof c === 'object' && c !== null && !('operator' in c) ? parseMailboxId(c.inMailbox) : undefined;
    if (folderId !== undefined) return folderId;
  }
  return undefined;
}

/** The plain conditions of a filter that is one condition or an AND of them; undefined for anything else. */
function plainConditions(filter: unknown): Condition[] | undefined {
  if (typeof filter !== 'object' || filter === null) return undefined;
  if (!('operator' in filter)) return [filter as Condition];
  const { operator, conditions } = filter as { operator: unknown; conditions: unknown[] };
  if (operator !== 'AND' || !conditions.every((c) => typeof c === 'object' && c !== null && !('operator' in c)))
    return undefined;
  return conditions as Condition[];
}

/** Whether any condition of the filter tree names one of these properties. */
function mentions(filter: unknown, names: ReadonlySet<string>): boolean {
  if (typeof filter !== 'object' || filter === null) return false;
  if ('operator' in filter) {
    const { conditions } = filter as { conditions?: unknown[] };
    return (conditions ?? []).some((c) => mentions(c, names));
  }
  return Object.keys(filter).some((name) => names.has(name));
}

const arrivalConditions = new Set(['inMailbox', 'hasKeyword', 'notKeyword']);

/**
 * The tests of a query the folder's arrival order answers alone: inMailbox, with or without
 * hasKeyword/notKeyword, sorted by receivedAt; undefined for any other.
 */
function arrivalTests(filter: unknown, sort: Comparator[]): { has: string[]; not: string[] } | undefined {
  if (sort.length > 1 || (sort.length === 1 && sort[0]!.property !== 'receivedAt')) return undefined;
  const conditions = plainConditions(filter);
  if (!conditions?.every((c) => Object.keys(c).every((name) => arrivalConditions.has(name)))) return undefined;
  const folderId = onlyFolder(filter);
  const tests = { has: [] as string[], not: [] as string[] };
  for (const c of conditions) {
    if (c.inMailbox !== undefined && parseMailboxId(c.inMailbox) !== folderId) return undefined;
    if (c.hasKeyword !== undefined) tests.has.push(flagOf(c.hasKeyword as string).toLowerCase());
    if (c.notKeyword !== undefined) tests.not.push(flagOf(c.notKeyword as string).toLowerCase());
  }
  return tests;
}

const hasLowerFlag = (m: IndexedMessage, flag: string) => m.flags.some((f) => f === flag || f.toLowerCase() === flag);

/** The folder's keyword-filtered arrival orders, per arrival order (a folder change makes a new one): a client pages through one. */
const keywordViews = new WeakMap<IndexedMessage[], Map<string, IndexedMessage[]>>();

function withKeywords(byArrival: IndexedMessage[], tests: { has: string[]; not: string[] }): IndexedMessage[] {
  if (!tests.has.length && !tests.not.length) return byArrival;
  const key = `${tests.has.sort().join(' ')}\0${tests.not.sort().join(' ')}`;
  let views = keywordViews.get(byArrival);
  if (!views) keywordViews.set(byArrival, (views = new Map()));
  let view = views.get(key);
  if (!view) {
    view = byArrival.filter(
      (m) => tests.has.every((f) => hasLowerFlag(m, f)) && !tests.not.some((f) => hasLowerFlag(m, f)),
    );
    if (views.size >= 8) views.delete(views.keys().next().value!);
    views.set(key, view);
  }
  return view;
}

/** The query's results in order, read by position (without a copy of the folder's order). */
export interface OrderedEmails {
  length: number;
  at(index: number): IndexedMessage;
}

export interface EmailQueryResult {
  accountId: string;
  state: string;
  results: OrderedEmails;
  /** What Email/queryChanges needs to say how these results moved since a state (email-query-changes.ts). */
  changes: QueryDependence;
}

/** What an Email's place in a query's results depends on. */
export interface QueryDependence {
  /** The account's folders now. */
  folders: Folder[];
  /** The one folder the query reads (inMailbox), or undefined for every folder of the account. */
  folderId: number | undefined;
  /**
   * Whether an Email's place depends on the other Emails of its thread (collapseThreads, the thread
   * keyword filters and sorts), in any folder: a change to one may move every Email of the thread.
   */
  byThread: boolean;
  /** Whether the order is of properties that never change (receivedAt, size, from, to, subject, sentAt). */
  fixedOrder: boolean;
  /** Every message the query looked at (before filtering). */
  candidates(): Promise<IndexedMessage[]>;
  /** The folder of one of those messages. */
  folderOf(message: IndexedMessage): number;
}

/** The arguments Email/query and Email/queryChanges share, checked, and all the query's results. */
export async function runEmailQuery(
  args: Record<string, unknown>,
  context: JmapCallContext,
): Promise<EmailQueryResult> {
  const accountId = requireAccount(args, context);
  const filter = parseFilter(args.filter, checkCondition);
  const sort = checkEmailSort(parseSort(args.sort, new Set(emailSortProperties)));
  const collapseThreads = args.collapseThreads ?? false;
  if (typeof collapseThreads !== 'boolean') throw invalidArguments('collapseThreads must be true or false');
  const { mail } = context;
  const { folders, state } = await accountFolders(mail.db, context.principal, mail.now());
  const messagesOf = (folder: Folder) => mail.index.messages(mail.db, folder.id, Number(folder.highest_modseq));
  const folderId = onlyFolder(args.filter);
  const folder = folders.find((f) => f.id === folderId);
  const comparators = sort.length ? sort : [{ property: 'receivedAt', isAscending: false }];
  const descending = !comparators[0]!.isAscending;
  const byThread = collapseThreads || mentions(args.filter, threadConditions) || sortsByThread(comparators);
  const dependence = {
    folders,
    folderId,
    byThread,
    fixedOrder: !byThread && sortsByFixedProperties(comparators),
  };

  const tests = arrivalTests(args.filter, sort);
  if (tests && folderId !== undefined) {
    const byArrival = folder ? await mail.index.byArrival(mail.db, folder.id, Number(folder.highest_modseq)) : [];
    const withFlags = withKeywords(byArrival, tests);
    const matched = collapseThreads ? collapsedByThread(withFlags, descending) : withFlags;
    const last = matched.length - 1;
    return {
      accountId,
      state,
      results: { length: matched.length, at: descending ? (i) => matched[last - i]! : (i) => matched[i]! },
      changes: { ...dependence, candidates: async () => byArrival, folderOf: () => folderId },
    };
  }

  let flagsOfThreads: Promise<Map<number, string[][]>> | undefined;
  const threadFlags: ThreadFlags = () =>
    (flagsOfThreads ??= (async () => {
      const threads = new Map<number, string[][]>();
      for (const folder of folders)
        for (const message of await messagesOf(folder)) {
          const sets = threads.get(message.threadId);
          if (sets) sets.push(message.flags);
          else threads.set(message.threadId, [message.flags]);
        }
      return threads;
    })());
  const candidates: Candidate[] = [];
  for (const searched of folderId === undefined ? folders : folder ? [folder] : [])
    for (const message of await messagesOf(searched)) candidates.push({ folderId: searched.id, message });
  const kept = await applyFilter(filter, candidates, (condition, items) =>
    matching(context, threadFlags, condition, items),
  );
  let sorted = candidates.filter((c) => kept.has(c));
  const compare = await emailComparison(
    comparators,
    sorted.map((c) => c.message),
    {
      metadata: (messages) =>
        loadComputingMissing(
          mail,
          messages.map((m) => m.blobHash),
          (hashes) => loadMetadata(mail.db, hashes),
        ),
      threadFlags,
    },
  );
  const order = (a: Candidate, b: Candidate) => {
    const difference = compare(a.message, b.message);
    if (difference) return difference;
    // The same order every time: by folder and UID, in the first comparator's direction.
    const tie = a.folderId - b.folderId || a.message.uid - b.message.uid;
    return descending ? -tie : tie;
  };
  sorted.sort(order);
  if (collapseThreads) {
    const shown = new Set<number>();
    sorted = sorted.filter((c) => !shown.has(c.message.threadId) && shown.add(c.message.threadId));
  }
  let folderOfMessage: Map<IndexedMessage, number> | undefined;
  return {
    accountId,
    state,
    results: { length: sorted.length, at: (i) => sorted[i]!.message },
    changes: {
      ...dependence,
      candidates: async () => candidates.map((c) => c.message),
      folderOf: (message) =>
        (folderOfMessage ??= new Map(candidates.map((c) => [c.message, c.folderId]))).get(message) ?? -1,
    },
  };
}

/** The index of an Email among the results, -1 when it is not there. */
export function indexOfEmail(results: OrderedEmails, id: unknown): number {
  const wanted = parseEmailId(id);
  if (wanted !== undefined) for (let i = 0; i < results.length; i++) if (results.at(i).emailId === wanted) return i;
  return -1;
}

const emailQuery: JmapMethod<JmapCallContext> = {
  capability: mailCapability,
  async run(args, context) {
    const window = queryWindow(args);
    const { accountId, state, results } = await runEmailQuery(args, context);
    // One page (RFC 8620 5.5: a negative position counts from the end; an anchor wins over position).
    let start: number;
    if (window.anchor !== null) {
      const at = indexOfEmail(results, window.anchor);
      if (at === -1) throw new MethodError('anchorNotFound', `${window.anchor} is not in the results`);
      start = Math.max(0, at + window.anchorOffset);
    } else start = window.position < 0 ? Math.max(0, results.length + window.position) : window.position;
    const ids: string[] = [];
    for (let i = start; i < Math.min(results.length, start + window.limit); i++)
      ids.push(emailId(results.at(i).emailId));
    return {
      accountId,
      queryState: state,
      canCalculateChanges: true,
      position: Math.min(start, results.length),
      ids,
      ...(args.calculateTotal === true ? { total: results.length } : {}),
      ...(window.limited ? { limit: window.limit } : {}),
    };
  },
};

export const emailQueryMethod: [string, JmapMethod<JmapCallContext>] = ['Email/query', emailQuery];
