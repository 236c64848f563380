// Email/set (RFC 8621 4.6): create (email-create.ts: a message written from the object, stored as IMAP
// APPEND stores one), keywords and mailboxIds updates and destroy, through the mailbox
// layer's own operations — storeFlags (IMAP STORE), copyMessages with move (IMAP MOVE),
// deleteMessages (an expunge) — so IMAP sessions see each change as their own kind: FETCH FLAGS,
// EXPUNGE. A message row is in one folder: moving it makes a row with a new UID there that holds the
// same Email (messages.email_id), so the Email keeps its id and Email/changes shows it updated.
import { applyFlagChange, copyMessages, deleteMessages, storeFlags } from '../../mailbox/messages.ts';
import type { Folder } from '../../mailbox/folders.ts';
import type { JmapCallContext } from './jmap-context.ts';
import { mailboxId } from './jmap-ids.ts';
import { mailCapability, type JmapMethod } from './jmap-request.ts';
import { flagOf, isKeyword } from './keywords.ts';
import { accountFolders } from './mail-folders.ts';
import { requireAccount, requireInState, setArguments } from './method-arguments.ts';
import { invalidProperty, SetFailure, SetResults } from './set-outcome.ts';
import { findEmails, type FoundEmail } from './email-get.ts';
import { requireRights } from './jmap-accounts.ts';
import { createEmails } from './email-create.ts';

/** What one update asks: the new flags (from the current ones) and the folder the message should be in. */
function planUpdate(email: FoundEmail, patch: Record<string, unknown>, folders: Map<string, Folder>) {
  let flags = email.row.flags;
  let boxes: Set<string> | undefined;
  const checkKeyword = (keyword: string, property: string) => {
    if (!isKeyword(keyword)) throw invalidProperty(property, `"${keyword}" is not a keyword`);
  };
  for (const [path, value] of Object.entries(patch)) {
    if (path === 'keywords') {
      if (typeof value !== 'object' || value === null || Array.isArray(value))
        throw invalidProperty(path, 'keywords must be an object of keywords set to true');
      const keywords = Object.entries(value);
      for (const [keyword, set] of keywords) {
        checkKeyword(keyword, path);
        if (set !== true) throw invalidProperty(path, 'a keyword can only be set to true');
      }
      // \Deleted has no keyword; it stays as IMAP set it.
      const kept = flags.filter((f) => f === '\\Deleted');
      flags = applyFlagChange([], 'set', [...kept, ...keywords.map(([k]) => flagOf(k))]);
    } else if (path.startsWith('keywords/')) {
      const keyword = path.slice('keywords/'.length);
      checkKeyword(keyword, path);
      if (value !== true && value !== null) throw invalidProperty(path, 'a keyword patch is true or null');
      flags = applyFlagChange(flags, value ? 'add' : 'remove', [flagOf(keyword)]);
    } else if (path === 'mailboxIds') {
      if (typeof value !== 'object' || value === null || Array.isArray(value))
        throw invalidProperty(path, 'mailboxIds must be an object of Mailbox ids set to true');
      if (Object.values(value).some((v) => v !== true))
        throw invalidProperty(path, 'a Mailbox id can only be set to true');
      boxes = new Set(Object.keys(value));
    } else if (path.startsWith('mailboxIds/')) {
      if (value !== true && value !== null) throw invalidProperty(path, 'a mailboxIds patch is true or null');
      boxes ??= new Set([mailboxId(email.folder.id)]);
      if (value) boxes.add(path.slice('mailboxIds/'.length));
      else boxes.delete(path.slice('mailboxIds/'.length));
    } else throw invalidProperty(path, `${path.split('/')[0]} cannot be changed (only keywords and mailboxIds)`);
  }
  let target = email.folder;
  if (boxes) {
    for (const id of boxes)
      if (!folders.has(id)) throw invalidProperty('mailboxIds', `${id} is not a Mailbox of this account`);
    if (boxes.size === 0)
      throw invalidProperty('mailboxIds', 'an Email must be in a Mailbox: destroy it to remove it from its last one');
    if (boxes.size > 1)
      throw new SetFailure({
        type: 'tooManyMailboxes',
        description: 'an Email is in one Mailbox on this server (maxMailboxesPerEmail is 1): copy it instead',
      });
    target = folders.get([...boxes][0]!)!;
  }
  return { flags, target };
}

/** The RFC 4314 rights an update takes: s for $seen alone, w for other keywords; t, e and i to move. */
function rightsForUpdate(email: FoundEmail, plan: ReturnType<typeof planUpdate>): string {
  const before = new Set(email.row.flags);
  const after = new Set(plan.flags);
  const changed = [...before, ...after].filter((f) => before.has(f) !== after.has(f));
  let rights = '';
  if (changed.includes('\\Seen')) rights += 's';
  if (changed.some((f) => f !== '\\Seen')) rights += 'w';
  if (plan.target.id !== email.folder.id) rights += 'tei';
  return rights;
}

const emailSet: JmapMethod<JmapCallContext> = {
  capability: mailCapability,
  async run(args, context) {
    const accountId = requireAccount(args, context);
    const { mail, principal } = context;
    const { create, update, destroy } = setArguments(args);
    const before = await accountFolders(mail.db, principal, mail.now());
    requireInState(args, before.state, 'the account');
    const folders = new Map(before.folders.map((f) => [mailboxId(f.id), f]));

    // Made first (RFC 8620 5.3: create, then update, then destroy), each as IMAP APPEND stores a message.
    const results = new SetResults();
    await createEmails(context, before.folders, create, results);

    const toUpdate = await findEmails(context, before.folders, Object.keys(update));
    for (const id of toUpdate.notFound) results.notUpdated[id] = { type: 'notFound', description: `no Email ${id}` };
    for (const email of toUpdate.found) {
      const patch = update[email.id];
      await results.update(email.id, async () => {
        if (typeof patch !== 'object' || patch === null || Array.isArray(patch))
          throw new SetFailure({ type: 'invalidPatch', description: 'a patch is an object' });
        const plan = planUpdate(email, patch as Record<string, unknown>, folders);
        requireRights(context, rightsForUpdate(email, plan), 'Changing an Email');
        if (plan.flags.join(' ') !== email.row.flags.join(' '))
          await storeFlags(mail, email.folder, [email.row.uid], 'set', plan.flags);
        if (plan.target.id !== email.folder.id) {
          await copyMessages(mail, email.folder, [email.row.uid], plan.target, {
            move: true,
            quotaBytes: principal.quotaBytes,
          });
        }
        return null;
      });
    }

    // Destroyed folder by folder, one expunge each.
    const toDestroy = await findEmails(context, before.folders, destroy);
    for (const id of toDestroy.notFound) results.notDestroyed[id] = { type: 'notFound', description: `no Email ${id}` };
    const byFolder = new Map<number, { folder: Folder; emails: FoundEmail[] }>();
    for (const email of toDestroy.found)
      await results.destroy(email.id, async () => {
        requireRights(context, 'te', 'Destroying an Email');
        const entry = byFolder.get(email.folder.id) ?? { folder: email.folder, emails: [] };
        entry.emails.push(email);
        byFolder.set(email.folder.id, entry);
      });
    for (const { folder, emails } of byFolder.values())
      await deleteMessages(
        mail,
        folder,
        emails.map((e) => e.row.uid),
      );

    const after = await accountFolders(mail.db, principal, mail.now());
    return results.setResponse(accountId, before.state, after.state);
  },
};

export const emailSetMethod: [string, JmapMethod<JmapCallContext>] = ['Email/set', emailSet];
