// Email/query (RFC 8621 4.4): the messages of the principal's folders, from the folder index IMAP's
// SELECT and SEARCH read (kept up to date by MODSEQ), filtered with SEARCH's own header and body
// text tests, sorted by arrival or size. collapseThreads keeps the first Email of each thread in that
// order; the thread keyword filters look at every Email of the thread in the account (the folder
// indexes of all its folders, read only when a filter asks).
import type { Folder } from '../../mailbox/folders.ts';
import type { IndexedMessage } from '../../mailbox/folder-index.ts';
import { loadComputingMissing } from '../../mailbox/message-metadata.ts';
import { fieldContains, type SearchHeaders } from '../../mailbox/search-headers.ts';
import type { JmapCallContext } from './jmap-context.ts';
import { MethodError, invalidArguments } from './jmap-errors.ts';
import { emailId, parseMailboxId } from './jmap-ids.ts';
import { mailCapability, type JmapMethod } from './jmap-request.ts';
import { flagOf, isKeyword } from './keywords.ts';
import { accountFolders } from './mail-folders.ts';
import { applyFilter, queryAnswer, parseFilter, parseSort, queryWindow, requireAccount } from './method-arguments.ts';

interface Candidate {
  folderId: number;
  message: IndexedMessage;
}

/** The flags of each thread's Emails over the whole account, read once per call when a filter needs them. */
type ThreadFlags = () => Promise<Map<number, string[][]>>;

type Condition = Record<string, unknown>;

const textFields = ['from', 'to', 'cc', 'bcc', 'subject'] as const;

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
  if (fields.length || condition.text !== undefined) {
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
  }
  if (condition.body !== undefined) {
    const inBody = await bodyMatches(context, kept, needle('body'));
    kept = kept.filter((c) => inBody.has(c.message.blobHash));
  }
  return new Set(kept);
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

/** The folders a filter can match in: the one named by a top-level inMailbox, else all. */
function searchedFolders(folders: Folder[], filter: unknown): Folder[] {
  const only =
    typeof filter === 'object' && filter !== null && !('operator' in filter)
      ? parseMailboxId((filter as Condition).inMailbox)
      : undefined;
  return only === undefined ? folders : folders.filter((f) => f.id === only);
}

const emailQuery: JmapMethod<JmapCallContext> = {
  capability: mailCapability,
  async run(args, context) {
    const accountId = requireAccount(args, context);
    const filter = parseFilter(args.filter, checkCondition);
    const sort = parseSort(args.sort, new Set(['receivedAt', 'size']));
    const window = queryWindow(args);
    const collapseThreads = args.collapseThreads ?? false;
    if (typeof collapseThreads !== 'boolean') throw invalidArguments('collapseThreads must be true or false');
    const { mail } = context;
    const { folders, state } = await accountFolders(mail.db, context.principal, mail.now());
    let flagsOfThreads: Promise<Map<number, string[][]>> | undefined;
    const threadFlags: ThreadFlags = () =>
      (flagsOfThreads ??= (async () => {
        const threads = new Map<number, string[][]>();
        for (const folder of folders)
          for (const message of await mail.index.messages(mail.db, folder.id)) {
            const sets = threads.get(message.threadId);
            if (sets) sets.push(message.flags);
            else threads.set(message.threadId, [message.flags]);
          }
        return threads;
      })());
    const candidates: Candidate[] = [];
    for (const folder of searchedFolders(folders, args.filter))
      for (const message of await mail.index.messages(mail.db, folder.id))
        candidates.push({ folderId: folder.id, message });
    const kept = await applyFilter(filter, candidates, (condition, items) =>
      matching(context, threadFlags, condition, items),
    );
    const comparators = sort.length ? sort : [{ property: 'receivedAt', isAscending: false }];
    let sorted = candidates.filter((c) => kept.has(c));
    sorted.sort((a, b) => {
      for (const { property, isAscending } of comparators) {
        const order =
          property === 'size' ? a.message.size - b.message.size : a.message.internalDate - b.message.internalDate;
        if (order) return isAscending ? order : -order;
      }
      // The same order every time: by folder and UID, newest first.
      return b.folderId - a.folderId || b.message.uid - a.message.uid;
    });
    if (collapseThreads) {
      const shown = new Set<number>();
      sorted = sorted.filter((c) => !shown.has(c.message.threadId) && shown.add(c.message.threadId));
    }
    return queryAnswer(
      accountId,
      state,
      sorted.map((c) => emailId(c.message.emailId)),
      window,
      args,
    );
  },
};

export const emailQueryMethod: [string, JmapMethod<JmapCallContext>] = ['Email/query', emailQuery];
