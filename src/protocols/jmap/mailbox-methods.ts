// Mailbox/get, Mailbox/changes, Mailbox/query and Mailbox/set (RFC 8621 2): a Mailbox is a folder
// of the principal's, with counts from the same rows IMAP's STATUS reads. Changes are worked out from
// the state strings (jmap-state.ts): a folder whose HIGHESTMODSEQ moved has new counts; one whose
// name, role or subscription moved is updated beyond them. Mailbox/set creates, renames, moves and
// deletes through the folder code IMAP's CREATE, RENAME, DELETE and SUBSCRIBE use (mailbox/folders.ts),
// so both protocols see one hierarchy.
import { HoldfastError } from '../../errors.ts';
import {
  createFolder,
  deleteFolder,
  folderDelimiter,
  folderStatus,
  listFolders,
  renameFolder,
  setSubscribed,
  type Folder,
} from '../../mailbox/folders.ts';
import { sharedPrefix } from '../../mailbox/shared-folders.ts';
import { accessOf, requireRights } from './jmap-accounts.ts';
import type { JmapCallContext } from './jmap-context.ts';
import { MethodError, invalidArguments } from './jmap-errors.ts';
import { mailboxId, parseMailboxId } from './jmap-ids.ts';
import { mailCapability, type JmapMethod } from './jmap-request.ts';
import { encodeState, folderStateOf, type FolderState } from './jmap-state.ts';
import { accountFolders } from './mail-folders.ts';
import { threadCounts } from './thread-counts.ts';
import {
  applyFilter,
  getIds,
  getList,
  getProperties,
  changesArguments,
  queryAnswer,
  parseFilter,
  parseSort,
  queryWindow,
  requireAccount,
  requireInState,
  setArguments,
} from './method-arguments.ts';
import { invalidProperty, SetFailure, SetResults } from './set-outcome.ts';

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

/**
 * JMAP rights from the RFC 4314 rights a principal holds on a folder, as RFC 8621 2 pairs them: the
 * owner's own folders (ownerRights) or a shared mailbox's (jmap-accounts.ts). INBOX is never renamed
 * or deleted (an IMAP RENAME of INBOX moves its messages; Mailbox/set refuses both). maySubmit has no
 * IMAP right: it is whether the user may send as the account's owner (send-as, flow/sender-checks.ts).
 */
export function jmapRights(acl: string, folder: Pick<Folder, 'name'>, maySubmit = false) {
  const has = (rights: string) => [...rights].every((r) => acl.includes(r));
  const inbox = folder.name === 'INBOX';
  return {
    mayReadItems: has('lr'),
    mayAddItems: has('i'),
    mayRemoveItems: has('te'),
    maySetSeen: has('s'),
    maySetKeywords: has('w'),
    mayCreateChild: has('k'),
    mayRename: has('x') && !inbox,
    mayDelete: has('x') && !inbox,
    maySubmit,
  };
}

const rightsOf = (context: JmapCallContext, folder: Folder) => {
  const { rights, maySubmit } = accessOf(context);
  return jmapRights(rights, folder, maySubmit);
};

async function mailboxObject(
  context: JmapCallContext,
  folder: Folder,
  byName: Map<string, Folder>,
  wanted: string[],
): Promise<Record<string, unknown>> {
  const needsCounts = wanted.some((p) => countProperties.includes(p));
  const status = needsCounts ? await folderStatus(context.mail.db, folder) : undefined;
  const threads = needsCounts ? await threadCounts(context.mail, folder) : undefined;
  const parent = parentOf(folder, byName);
  const all: Record<string, unknown> = {
    id: mailboxId(folder.id),
    name: folder.name.slice(folder.name.lastIndexOf(folderDelimiter) + 1),
    parentId: parent ? mailboxId(parent.id) : null,
    role: roleOf(folder),
    sortOrder: sortOrderOf(folder),
    totalEmails: status?.messages,
    unreadEmails: status?.unseen,
    totalThreads: threads?.totalThreads,
    unreadThreads: threads?.unreadThreads,
    myRights: rightsOf(context, folder),
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
    const { list, notFound } = await getList(ids, byId, (folder) => mailboxObject(context, folder, byName, wanted));
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

// Mailbox/set ------------------------------------------------------------------------------------

/** JMAP roles a Mailbox may be created with, and the IMAP special use (RFC 6154) each is stored as. */
const specialUseOfRole: Record<string, string> = {
  drafts: '\\Drafts',
  sent: '\\Sent',
  trash: '\\Trash',
  junk: '\\Junk',
  archive: '\\Archive',
  all: '\\All',
  flagged: '\\Flagged',
};

/** Properties the server sets; a client may not write them. */
const serverSet = new Set(['id', 'totalEmails', 'unreadEmails', 'totalThreads', 'unreadThreads', 'myRights']);

/** A folder error of the mailbox layer as the SetError a client reads; anything else as it was. */
function asSetFailure(error: unknown, property: string): unknown {
  if (!(error instanceof HoldfastError)) return error;
  if (error.kind === 'conflict' || error.kind === 'invalid') return invalidProperty(property, error.message);
  if (error.kind === 'forbidden') return new SetFailure({ type: 'forbidden', description: error.message });
  if (error.kind === 'not-found') return new SetFailure({ type: 'notFound', description: error.message });
  return error;
}

const leafOf = (folder: Folder) => folder.name.slice(folder.name.lastIndexOf(folderDelimiter) + 1);
const parentName = (name: string) => {
  const at = name.lastIndexOf(folderDelimiter);
  return at === -1 ? null : name.slice(0, at);
};

/** One Mailbox/set call: the account's folders as they are after each change made so far. */
class MailboxSet {
  /** Creation id → folder id, for a parentId of "#creationId" later in the same call. */
  private readonly createdIds = new Map<string, number>();
  private folders: Folder[] = [];

  constructor(private readonly context: JmapCallContext) {}

  async refresh() {
    this.folders = await listFolders(this.context.mail.db, this.context.principal.id);
  }

  private byId(id: unknown): Folder | undefined {
    const folderId =
      typeof id === 'string' && id.startsWith('#') ? this.createdIds.get(id.slice(1)) : parseMailboxId(id);
    return this.folders.find((f) => f.id === folderId);
  }

  private byName(name: string): Folder | undefined {
    return this.folders.find((f) => f.name === name);
  }

  /** The folder name a leaf name under a parentId makes, checked as a JMAP name. */
  private fullName(name: unknown, parentId: unknown): string {
    if (typeof name !== 'string' || name.trim() === '')
      throw invalidProperty('name', 'name must be a non-empty string');
    if (name.includes(folderDelimiter))
      throw invalidProperty('name', `a Mailbox name cannot contain "${folderDelimiter}" (it separates levels)`);
    if (name.length > 1000) throw invalidProperty('name', 'a Mailbox name is at most 1000 characters');
    let full = name;
    if (parentId !== null && parentId !== undefined) {
      const parent = this.byId(parentId);
      if (!parent) throw invalidProperty('parentId', `${String(parentId)} is not a Mailbox of this account`);
      full = `${parent.name}${folderDelimiter}${name}`;
    }
    // The shared namespace shows other people's mailboxes there (shared-folders.ts).
    if (full.startsWith(sharedPrefix))
      throw invalidProperty('parentId', `"${sharedPrefix}" holds the mailboxes shared with you; create it elsewhere`);
    return full;
  }

  private checkWritable(value: Record<string, unknown>) {
    for (const property of Object.keys(value)) {
      if (serverSet.has(property)) throw invalidProperty(property, `${property} is set by the server`);
      if (!['name', 'parentId', 'role', 'sortOrder', 'isSubscribed'].includes(property))
        throw invalidProperty(property, `Mailbox has no property ${property}`);
    }
    if (value.isSubscribed !== undefined && typeof value.isSubscribed !== 'boolean')
      throw invalidProperty('isSubscribed', 'isSubscribed must be true or false');
    if (value.sortOrder !== undefined && (!Number.isInteger(value.sortOrder) || (value.sortOrder as number) < 0))
      throw invalidProperty('sortOrder', 'sortOrder must be a non-negative integer');
  }

  /** What the server set differently from what the client sent (RFC 8620 5.3). */
  private serverValues(folder: Folder, sent: Record<string, unknown>): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    // sortOrder is the server's (by role): not stored per folder.
    if (sent.sortOrder !== undefined && sent.sortOrder !== sortOrderOf(folder)) out.sortOrder = sortOrderOf(folder);
    return out;
  }

  async create(creationId: string, value: Record<string, unknown>): Promise<Record<string, unknown>> {
    requireRights(this.context, 'k', 'Creating a Mailbox');
    this.checkWritable(value);
    const name = this.fullName(value.name, value.parentId);
    let specialUse: string | null = null;
    if (value.role !== undefined && value.role !== null) {
      if (typeof value.role !== 'string' || !(value.role in specialUseOfRole))
        throw invalidProperty('role', `role must be one of ${Object.keys(specialUseOfRole).join(', ')} (or null)`);
      if (this.folders.some((f) => roleOf(f) === value.role))
        throw invalidProperty('role', `another Mailbox has the role ${value.role}`);
      specialUse = specialUseOfRole[value.role]!;
    }
    const { db, now } = this.context.mail;
    try {
      await createFolder(db, this.context.principal, name, specialUse, now());
      if (value.isSubscribed === false) await setSubscribed(db, this.context.principal.id, name, false);
    } catch (error) {
      throw asSetFailure(error, 'name');
    }
    await this.refresh();
    const folder = this.byName(name)!;
    this.createdIds.set(creationId, folder.id);
    return {
      id: mailboxId(folder.id),
      role: roleOf(folder),
      sortOrder: sortOrderOf(folder),
      totalEmails: 0,
      unreadEmails: 0,
      totalThreads: 0,
      unreadThreads: 0,
      myRights: rightsOf(this.context, folder),
      isSubscribed: folder.subscribed === 1,
    };
  }

  async update(id: string, patch: Record<string, unknown>): Promise<Record<string, unknown> | null> {
    const folder = this.byId(id);
    if (!folder || id.startsWith('#')) throw new SetFailure({ type: 'notFound', description: `no Mailbox ${id}` });
    this.checkWritable(patch);
    if (patch.role !== undefined && patch.role !== roleOf(folder))
      throw invalidProperty('role', 'a role is given when a Mailbox is created; it cannot be changed');
    const { db, now } = this.context.mail;
    const principalId = this.context.principal.id;
    if (patch.name !== undefined || patch.parentId !== undefined) {
      const leaf = patch.name ?? leafOf(folder);
      // A rename alone keeps the folder where it is, even under a level that has no folder of its own.
      const parent = parentName(folder.name);
      const target =
        patch.parentId !== undefined || parent === null
          ? this.fullName(leaf, patch.parentId ?? null)
          : `${parent}${folderDelimiter}${this.fullName(leaf, null)}`;
      if (target !== folder.name) {
        requireRights(this.context, 'x', 'Renaming or moving a Mailbox');
        if (folder.name === 'INBOX')
          throw new SetFailure({ type: 'forbidden', description: 'INBOX cannot be renamed or moved' });
        if (target.startsWith(`${folder.name}${folderDelimiter}`))
          throw invalidProperty('parentId', 'a Mailbox cannot be moved below itself');
        try {
          await renameFolder(db, principalId, folder.name, target, now());
        } catch (error) {
          throw asSetFailure(error, 'name');
        }
      }
    }
    await this.refresh();
    const renamed = this.folders.find((f) => f.id === folder.id)!;
    if (patch.isSubscribed !== undefined && (renamed.subscribed === 1) !== patch.isSubscribed) {
      // A folder's subscription is kept on the folder, for its owner: a grantee's change would be theirs.
      if (this.context.signedIn)
        throw new SetFailure({
          type: 'forbidden',
          description: `the subscriptions of ${this.context.principal.address} are its owner's`,
        });
      await setSubscribed(db, principalId, renamed.name, patch.isSubscribed as boolean);
      await this.refresh();
    }
    const changed = this.serverValues(renamed, patch);
    return Object.keys(changed).length ? changed : null;
  }

  async destroy(id: string, removeEmails: boolean): Promise<void> {
    const folder = this.byId(id);
    if (!folder || id.startsWith('#')) throw new SetFailure({ type: 'notFound', description: `no Mailbox ${id}` });
    requireRights(this.context, 'x', 'Destroying a Mailbox');
    if (folder.name === 'INBOX') throw new SetFailure({ type: 'forbidden', description: 'INBOX cannot be destroyed' });
    if (this.folders.some((f) => f.name.startsWith(`${folder.name}${folderDelimiter}`)))
      throw new SetFailure({ type: 'mailboxHasChild', description: `${leafOf(folder)} has child Mailboxes` });
    const { db } = this.context.mail;
    if (!removeEmails && (await folderStatus(db, folder)).messages > 0)
      throw new SetFailure({
        type: 'mailboxHasEmail',
        description: `${leafOf(folder)} has Emails: destroy them first, or set onDestroyRemoveEmails`,
      });
    try {
      await deleteFolder(db, this.context.principal.id, folder.name);
    } catch (error) {
      throw asSetFailure(error, 'id');
    }
    await this.refresh();
  }
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const mailboxSet: JmapMethod<JmapCallContext> = {
  capability: mailCapability,
  async run(args, context) {
    const accountId = requireAccount(args, context);
    const { create, update, destroy } = setArguments(args);
    const removeEmails = args.onDestroyRemoveEmails ?? false;
    if (typeof removeEmails !== 'boolean') throw invalidArguments('onDestroyRemoveEmails must be true or false');
    const { mail, principal } = context;
    const before = await accountFolders(mail.db, principal, mail.now());
    requireInState(args, before.state, 'the account');

    const set = new MailboxSet(context);
    await set.refresh();
    const results = new SetResults();
    // In the order given, so that a later one may name an earlier one as its parent ("#creationId").
    for (const [creationId, value] of Object.entries(create))
      await results.create(creationId, async () => {
        if (!isObject(value)) throw new SetFailure({ type: 'invalidArguments', description: 'a Mailbox is an object' });
        return set.create(creationId, value);
      });
    for (const [id, patch] of Object.entries(update))
      await results.update(id, async () => {
        if (!isObject(patch)) throw new SetFailure({ type: 'invalidPatch', description: 'a patch is an object' });
        return set.update(id, patch);
      });
    // Deepest first: a Mailbox destroyed with its children in one call goes after them.
    const depth = (id: string) => {
      const folder = before.folders.find((f) => mailboxId(f.id) === id);
      return folder ? folder.name.split(folderDelimiter).length : 0;
    };
    for (const id of [...new Set(destroy)].sort((a, b) => depth(b) - depth(a)))
      await results.destroy(id, () => set.destroy(id, removeEmails));

    const after = await accountFolders(mail.db, principal, mail.now());
    return results.setResponse(accountId, before.state, after.state);
  },
};

export const mailboxMethods: [string, JmapMethod<JmapCallContext>][] = [
  ['Mailbox/get', mailboxGet],
  ['Mailbox/changes', mailboxChanges],
  ['Mailbox/query', mailboxQuery],
  ['Mailbox/set', mailboxSet],
];
