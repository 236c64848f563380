// Mailbox/get, Mailbox/changes and Mailbox/query (RFC 8621 2): a Mailbox is a folder of the
// principal's, with counts from the same rows IMAP's STATUS reads. Changes are worked out from the
// state strings (jmap-state.ts): a folder whose HIGHESTMODSEQ moved has new counts; one whose name,
// role or subscription moved is updated beyond them.
import { folderDelimiter, folderStatus, type Folder } from '../../mailbox/folders.ts';
import type { JmapCallContext } from './jmap-context.ts';
import { MethodError, invalidArguments } from './jmap-errors.ts';
import { mailboxId, parseMailboxId } from './jmap-ids.ts';
import { mailCapability, type JmapMethod } from './jmap-request.ts';
import { encodeState, folderStateOf, type FolderState } from './jmap-state.ts';
import { accountFolders } from './mail-folders.ts';
import {
  applyFilter,
  getIds,
  getProperties,
  changesArguments,
  queryAnswer,
  parseFilter,
  parseSort,
  queryWindow,
  requireAccount,
} from './method-arguments.ts';

const properties = [
  'id',
  'name',
  'parentId',
  'role',
  'sortOrder',
  'totalEmails',
  'unreadEmails',
  'totalThreads',
  'unreadThreads',
  'myRights',
  'isSubscribed',
] as const;
const knownProperties: ReadonlySet<string> = new Set(properties);
const countProperties = ['totalEmails', 'unreadEmails', 'totalThreads', 'unreadThreads'];

/** The JMAP role of a folder (RFC 8621 2, from the IMAP special-use registry). */
export function roleOf(folder: Pick<Folder, 'name' | 'special_use'>): string | null {
  if (folder.name === 'INBOX') return 'inbox';
  return folder.special_use ? folder.special_use.replace(/^\\/, '').toLowerCase() : null;
}

const roleOrder = ['inbox', 'drafts', 'sent', 'archive', 'junk', 'trash'];
const sortOrderOf = (folder: Folder) => {
  const at = roleOrder.indexOf(roleOf(folder) ?? '');
  return at === -1 ? 100 : at + 1;
};

function parentOf(folder: Folder, byName: Map<string, Folder>): Folder | undefined {
  const at = folder.name.lastIndexOf(folderDelimiter);
  return at === -1 ? undefined : byName.get(folder.name.slice(0, at));
}

/** Rights on one's own folders: what the methods served can do (Mailbox/set is not served yet). */
const ownRights = {
  mayReadItems: true,
  mayAddItems: true,
  mayRemoveItems: true,
  maySetSeen: true,
  maySetKeywords: true,
  mayCreateChild: false,
  mayRename: false,
  mayDelete: false,
  maySubmit: false,
};

async function mailboxObject(
  context: JmapCallContext,
  folder: Folder,
  byName: Map<string, Folder>,
  wanted: string[],
): Promise<Record<string, unknown>> {
  const needsCounts = wanted.some((p) => countProperties.includes(p));
  const status = needsCounts ? await folderStatus(context.mail.db, folder) : undefined;
  const parent = parentOf(folder, byName);
  const all: Record<string, unknown> = {
    id: mailboxId(folder.id),
    name: folder.name.slice(folder.name.lastIndexOf(folderDelimiter) + 1),
    parentId: parent ? mailboxId(parent.id) : null,
    role: roleOf(folder),
    sortOrder: sortOrderOf(folder),
    // Every message is its own thread for now (Thread/get is not served).
    totalEmails: status?.messages,
    unreadEmails: status?.unseen,
    totalThreads: status?.messages,
    unreadThreads: status?.unseen,
    myRights: ownRights,
    isSubscribed: folder.subscribed === 1,
  };
  return Object.fromEntries(wanted.map((p) => [p, all[p]]));
}

const mailboxGet: JmapMethod<JmapCallContext> = {
  capability: mailCapability,
  async run(args, context) {
    const accountId = requireAccount(args, context);
    const ids = getIds(args, true);
    const wanted = getProperties(args.properties, knownProperties, properties);
    const { folders, state } = await accountFolders(context.mail.db, context.principal, context.mail.now());
    const byName = new Map(folders.map((f) => [f.name, f]));
    const byId = new Map(folders.map((f) => [mailboxId(f.id), f]));
    const list: Record<string, unknown>[] = [];
    const notFound: string[] = [];
    for (const id of ids ?? [...byId.keys()]) {
      const folder = byId.get(id);
      if (folder) list.push(await mailboxObject(context, folder, byName, wanted));
      else notFound.push(id);
    }
    return { accountId, state, list, notFound };
  },
};

const mailboxChanges: JmapMethod<JmapCallContext> = {
  capability: mailCapability,
  async run(args, context) {
    const { accountId, since, limit } = changesArguments(args, context);
    const { folders, state } = await accountFolders(context.mail.db, context.principal, context.mail.now());
    const now = new Map(folders.map((f) => [f.id, folderStateOf(f)]));
    type Change = { id: number; kind: 'created' | 'updated' | 'destroyed'; countsOnly: boolean };
    const changes: Change[] = [];
    for (const [id, current] of now) {
      const old = since.get(id);
      if (!old) changes.push({ id, kind: 'created', countsOnly: false });
      else if (old.modseq !== current.modseq || old.uidvalidity !== current.uidvalidity || old.look !== current.look)
        changes.push({
          id,
          kind: 'updated',
          countsOnly: old.uidvalidity === current.uidvalidity && old.look === current.look,
        });
    }
    for (const id of since.keys()) if (!now.has(id)) changes.push({ id, kind: 'destroyed', countsOnly: false });
    changes.sort((a, b) => a.id - b.id);
    const reported = changes.slice(0, limit);
    const hasMoreChanges = reported.length < changes.length;
    let newState = state;
    if (hasMoreChanges) {
      // The old state with the reported folders brought up to now.
      const next = new Map<number, FolderState>(since);
      for (const change of reported) {
        const current = now.get(change.id);
        if (current) next.set(change.id, current);
        else next.delete(change.id);
      }
      newState = encodeState([...next.values()]);
    }
    const updated = reported.filter((c) => c.kind === 'updated');
    return {
      accountId,
      oldState: args.sinceState,
      newState,
      hasMoreChanges,
      created: reported.filter((c) => c.kind === 'created').map((c) => mailboxId(c.id)),
      updated: updated.map((c) => mailboxId(c.id)),
      destroyed: reported.filter((c) => c.kind === 'destroyed').map((c) => mailboxId(c.id)),
      updatedProperties: updated.length && updated.every((c) => c.countsOnly) ? countProperties : null,
    };
  },
};

type MailboxCondition = (folder: Folder, byName: Map<string, Folder>) => boolean;

function mailboxCondition(condition: Record<string, unknown>): MailboxCondition {
  const tests: MailboxCondition[] = [];
  for (const [name, value] of Object.entries(condition)) {
    switch (name) {
      case 'parentId': {
        if (value !== null && parseMailboxId(value) === undefined)
          throw invalidArguments('parentId must be a Mailbox id or null');
        tests.push((f, byName) => {
          const parent = parentOf(f, byName);
          return value === null ? !parent : parent !== undefined && mailboxId(parent.id) === value;
        });
        break;
      }
      case 'name':
        if (typeof value !== 'string') throw invalidArguments('name must be a string');
        tests.push((f) =>
          f.name
            .slice(f.name.lastIndexOf(folderDelimiter) + 1)
            .toLowerCase()
            .includes(value.toLowerCase()),
        );
        break;
      case 'role':
        if (value !== null && typeof value !== 'string') throw invalidArguments('role must be a string or null');
        tests.push((f) => roleOf(f) === value);
        break;
      case 'hasAnyRole':
        if (typeof value !== 'boolean') throw invalidArguments('hasAnyRole must be true or false');
        tests.push((f) => (roleOf(f) !== null) === value);
        break;
      case 'isSubscribed':
        if (typeof value !== 'boolean') throw invalidArguments('isSubscribed must be true or false');
        tests.push((f) => (f.subscribed === 1) === value);
        break;
      default:
        throw new MethodError('unsupportedFilter', `Mailbox/query does not filter by ${name}`);
    }
  }
  return (folder, byName) => tests.every((test) => test(folder, byName));
}

const mailboxQuery: JmapMethod<JmapCallContext> = {
  capability: mailCapability,
  async run(args, context) {
    const accountId = requireAccount(args, context);
    const filter = parseFilter(args.filter, mailboxCondition);
    const sort = parseSort(args.sort, new Set(['name', 'sortOrder']));
    if (args.sortAsTree === true) throw new MethodError('unsupportedSort', 'sortAsTree is not supported yet');
    if (args.filterAsTree === true) throw new MethodError('unsupportedFilter', 'filterAsTree is not supported yet');
    const window = queryWindow(args);
    const { folders, state } = await accountFolders(context.mail.db, context.principal, context.mail.now());
    const byName = new Map(folders.map((f) => [f.name, f]));
    const kept = await applyFilter(
      filter,
      folders,
      async (test, items) => new Set(items.filter((f) => test(f, byName))),
    );
    const leaf = (f: Folder) => f.name.slice(f.name.lastIndexOf(folderDelimiter) + 1);
    const sorted = folders.filter((f) => kept.has(f));
    sorted.sort((a, b) => {
      for (const { property, isAscending } of sort) {
        const order = property === 'name' ? leaf(a).localeCompare(leaf(b)) : sortOrderOf(a) - sortOrderOf(b);
        if (order) return isAscending ? order : -order;
      }
      return a.name.localeCompare(b.name);
    });
    return queryAnswer(
      accountId,
      state,
      sorted.map((f) => mailboxId(f.id)),
      window,
      args,
    );
  },
};

export const mailboxMethods: [string, JmapMethod<JmapCallContext>][] = [
  ['Mailbox/get', mailboxGet],
  ['Mailbox/changes', mailboxChanges],
  ['Mailbox/query', mailboxQuery],
];
