// Partial restore: one tenant's, one user's or one folder's mail and calendar objects taken back out
// of a backup into the live system, the way Exchange's recoverable items come back. Only what the
// backup holds and the live mailbox no longer has anywhere comes back (a message by its content in
// any of the owner's folders, an event by its UID in any of the owner's calendars), into a folder
// "Recovered" with the original folder names below it and a calendar "Recovered"; nothing already
// there is changed. Running it again recovers nothing twice (each recovered message carries its
// backup row as delivery key, and is then present anyway).
//
// The backup is read as a stream, table by table, and live presence is asked in batches: memory
// stays bounded by the number of folders and calendars selected, whatever the number of messages.
import type { Kysely } from 'kysely';
import { createCalendar, findCalendar, objectUriForUid, putObject } from '../calendar/calendars.ts';
import { invalid, notFound } from '../errors.ts';
import { failureReason } from '../import-export/failure-reason.ts';
import { MailTarget, storableFlags, type MailOwner } from '../import-export/mail-target.ts';
import { receiveContent } from '../import-export/message-content.ts';
import { folderDelimiter, normalizeFolderName } from '../mailbox/folders.ts';
import { batches } from '../store/batches.ts';
import type { Database } from '../store/schema.ts';
import type { Store } from '../store/store.ts';
import { openBackup, type OpenedBackup } from './open-backup.ts';

export interface RecoverySelection {
  /** Every mailbox of this tenant (by name)… */
  tenant?: string;
  /** …or of this one address. */
  user?: string;
  /** Only this folder of the user (mail only). */
  folder?: string;
  /** Only mail received (internal date) in [since, until) (epoch ms; mail only). */
  receivedSince?: number;
  receivedUntil?: number;
  /** The top folder and the calendar recovered items go into; "Recovered" when not given. */
  into?: string;
  /** Count what would come back, change nothing. */
  dryRun?: boolean;
}

export interface RecoveryFailure {
  account: string;
  /** The folder and UID, or the calendar and UID, of the item in the backup. */
  item: string;
  reason: string;
}

export interface RecoverySummary {
  backup: string;
  into: string;
  dryRun: boolean;
  accounts: number;
  /** Accounts of the selection that the live system no longer has: nothing of theirs comes back. */
  accountsMissing: string[];
  messages: { inBackup: number; alreadyThere: number; recovered: number; failed: number };
  events: { inBackup: number; alreadyThere: number; recovered: number; failed: number };
  failures: RecoveryFailure[];
}

export interface RecoveryTarget {
  store: Pick<Store, 'db' | 'dialect' | 'blobs'>;
  /** The live mailbox owner with this address, if there is one. */
  findOwner(address: string): Promise<MailOwner | undefined>;
  now?: () => number;
}

/** What of the backup belongs to one selected account. */
interface Account {
  address: string;
  owner?: MailOwner;
  target?: MailTarget;
}

const defaultInto = 'Recovered';
/** At most this many failures are listed (all are counted). */
const listedFailures = 100;
const batchSize = 200;

export async function recoverFromBackup(
  dir: string,
  target: RecoveryTarget,
  selection: RecoverySelection,
): Promise<RecoverySummary> {
  checkSelection(selection);
  const backup = await openBackup(dir);
  try {
    await backup.checkFiles();
    const into = normalizeFolderName(selection.into ?? defaultInto);
    const summary: RecoverySummary = {
      backup: backup.manifest.id,
      into,
      dryRun: Boolean(selection.dryRun),
      accounts: 0,
      accountsMissing: [],
      messages: { inBackup: 0, alreadyThere: 0, recovered: 0, failed: 0 },
      events: { inBackup: 0, alreadyThere: 0, recovered: 0, failed: 0 },
      failures: [],
    };
    const accounts = await selectedAccounts(backup, target, selection);
    summary.accounts = accounts.size;
    summary.accountsMissing = [...accounts.values()].filter((a) => !a.owner).map((a) => a.address);
    const fail = (counter: { failed: number }, failure: RecoveryFailure) => {
      counter.failed++;
      if (summary.failures.length < listedFailures) summary.failures.push(failure);
    };
    await recoverMail(backup, target, selection, into, accounts, summary, fail);
    // Calendars come back with a whole account; a folder or a time range are about mail.
    if (!selection.folder && selection.receivedSince === undefined && selection.receivedUntil === undefined)
      await recoverEvents(backup, target, into, accounts, summary, fail);
    return summary;
  } finally {
    await backup.close();
  }
}

function checkSelection(selection: RecoverySelection) {
  if (Boolean(selection.tenant) === Boolean(selection.user))
    throw invalid('recover-selection', 'name either a tenant (--tenant) or a user (--user) to recover');
  if (selection.folder !== undefined && !selection.user)
    throw invalid('recover-selection', '--folder needs --user: a folder belongs to one mailbox');
  const { receivedSince: since, receivedUntil: until } = selection;
  if (since !== undefined && until !== undefined && since >= until)
    throw invalid('recover-selection', 'the time range is empty: --received-since must be before --received-until');
}

/** The backup's principals the selection names, by backup id, with their live owners. */
async function selectedAccounts(
  backup: OpenedBackup,
  target: RecoveryTarget,
  selection: RecoverySelection,
): Promise<Map<number, Account>> {
  let tenantId: number | undefined;
  if (selection.tenant) {
    const wanted = selection.tenant.trim().toLowerCase();
    for await (const row of backup.rows('tenants'))
      if (String(row.name).toLowerCase() === wanted) tenantId = Number(row.id);
    if (tenantId === undefined)
      throw notFound('recover-not-in-backup', `backup ${backup.manifest.id} holds no tenant named ${selection.tenant}`);
  }
  const user = selection.user?.trim().toLowerCase();
  const accounts = new Map<number, Account>();
  for await (const row of backup.rows('principals')) {
    const address = String(row.address);
    if (user ? address === user : Number(row.tenant_id) === tenantId) accounts.set(Number(row.id), { address });
  }
  if (user && accounts.size === 0)
    throw notFound('recover-not-in-backup', `backup ${backup.manifest.id} holds no mailbox ${selection.user}`);
  for (const account of accounts.values()) account.owner = await target.findOwner(account.address);
  return accounts;
}

interface BackupMessage {
  id: number;
  account: Account;
  folder: string;
  uid: number;
  hash: string;
  prefix: string;
  flags: string[];
  internalDate: number;
}

async function recoverMail(
  backup: OpenedBackup,
  target: RecoveryTarget,
  selection: RecoverySelection,
  into: string,
  accounts: Map<number, Account>,
  summary: RecoverySummary,
  fail: (counter: { failed: number }, failure: RecoveryFailure) => void,
) {
  const wantedFolder = selection.folder === undefined ? undefined : normalizeFolderName(selection.folder);
  const folders = new Map<number, { account: Account; name: string }>();
  for await (const row of backup.rows('mailboxes')) {
    const account = accounts.get(Number(row.principal_id));
    const name = String(row.name);
    if (account && (wantedFolder === undefined || normalizeFolderName(name) === wantedFolder))
      folders.set(Number(row.id), { account, name });
  }
  if (wantedFolder !== undefined && folders.size === 0)
    throw notFound(
      'recover-not-in-backup',
      `backup ${backup.manifest.id} holds no folder ${selection.folder} of ${selection.user}`,
    );
  const { receivedSince: since = -Infinity, receivedUntil: until = Infinity } = selection;
  let batch: BackupMessage[] = [];
  const flush = async () => {
    const messages = batch.filter((m) => m.account.owner);
    batch = [];
    const missing: BackupMessage[] = [];
    for (const [ownerId, ofOwner] of byOwner(messages)) {
      const present = await contentsInMailbox(
        target.store.db,
        ownerId,
        ofOwner.map((m) => m.hash),
      );
      missing.push(...ofOwner.filter((m) => !present.has(m.hash)));
    }
    summary.messages.alreadyThere += messages.length - missing.length;
    for (const message of missing) {
      if (selection.dryRun) {
        summary.messages.recovered++;
        continue;
      }
      try {
        if (await recoverMessage(backup, target, into, message)) summary.messages.recovered++;
        else summary.messages.alreadyThere++;
      } catch (error) {
        fail(summary.messages, {
          account: message.account.address,
          item: `${message.folder} UID ${message.uid}`,
          reason: failureReason(error),
        });
      }
    }
  };
  for await (const row of backup.rows('messages')) {
    const folder = folders.get(Number(row.mailbox_id));
    if (!folder) continue;
    const internalDate = Number(row.internal_date);
    if (internalDate < since || internalDate >= until) continue;
    summary.messages.inBackup++;
    batch.push({
      id: Number(row.id),
      account: folder.account,
      folder: folder.name,
      uid: Number(row.uid),
      hash: String(row.blob_hash),
      prefix: String(row.prefix ?? ''),
      flags: String(row.flags ?? '')
        .split(' ')
        .filter(Boolean),
      internalDate,
    });
    if (batch.length >= batchSize) await flush();
  }
  await flush();
}

/** Items grouped by the live owner of their account (items whose account has one). */
function byOwner<T extends { account: Account }>(items: T[]): Map<number, T[]> {
  const groups = new Map<number, T[]>();
  for (const item of items) {
    const id = item.account.owner!.id;
    const group = groups.get(id);
    if (group) group.push(item);
    else groups.set(id, [item]);
  }
  return groups;
}

/** Those of `hashes` that some folder of the owner holds. */
async function contentsInMailbox(db: Kysely<Database>, ownerId: number, hashes: string[]): Promise<Set<string>> {
  const present = new Set<string>();
  for (const batch of batches([...new Set(hashes)])) {
    const rows = await db
      .selectFrom('messages')
      .innerJoin('mailboxes', 'mailboxes.id', 'messages.mailbox_id')
      .select('messages.blob_hash')
      .distinct()
      .where('mailboxes.principal_id', '=', ownerId)
      .where('messages.blob_hash', 'in', batch)
      .execute();
    for (const row of rows) present.add(row.blob_hash);
  }
  return present;
}

/** Puts one message back under `into`; false when this backup's copy was recovered before. */
async function recoverMessage(
  backup: OpenedBackup,
  target: RecoveryTarget,
  into: string,
  message: BackupMessage,
): Promise<boolean> {
  const account = message.account;
  account.target ??= await MailTarget.open(target.store, account.owner!, target.now);
  const folder = await account.target.folderFor(`${into}${folderDelimiter}${message.folder}`);
  const content = await receiveContent(target.store.blobs, backup.openBlob(message.hash)).catch((error) => {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    throw notFound('backup-content-missing', `its content ${message.hash} is missing from the backup's blobs/`);
  });
  if (content.hash !== message.hash)
    throw invalid('backup-content-damaged', `its content in the backup does not match its hash ${message.hash}`);
  return account.target.append(folder, content, {
    // \Deleted would have the next EXPUNGE take it away again.
    flags: storableFlags(message.flags.filter((f) => f.toLowerCase() !== '\\deleted')),
    internalDate: message.internalDate,
    prefix: message.prefix,
    key: `recovered:${backup.manifest.id}:${message.id}`,
  });
}

async function recoverEvents(
  backup: OpenedBackup,
  target: RecoveryTarget,
  into: string,
  accounts: Map<number, Account>,
  summary: RecoverySummary,
  fail: (counter: { failed: number }, failure: RecoveryFailure) => void,
) {
  const calendars = new Map<number, { account: Account; uri: string }>();
  for await (const row of backup.rows('calendars')) {
    const account = accounts.get(Number(row.principal_id));
    if (account) calendars.set(Number(row.id), { account, uri: String(row.uri) });
  }
  const db = target.store.db;
  const now = target.now ?? Date.now;
  const recoveredInto = new Map<number, Awaited<ReturnType<typeof findCalendar>>>();
  const calendarOf = async (owner: MailOwner) => {
    if (!recoveredInto.has(owner.id)) {
      const uri = into.toLowerCase().replace(/[^a-z0-9-]+/g, '-');
      const found =
        (await findCalendar(db, owner.id, uri)) ?? (await createCalendar(db, owner, uri, { displayName: into }, now()));
      recoveredInto.set(owner.id, found);
    }
    return recoveredInto.get(owner.id)!;
  };
  let batch: { account: Account; calendar: string; uid: string; data: string }[] = [];
  const flush = async () => {
    const events = batch;
    batch = [];
    for (const [ownerId, ofOwner] of byOwner(events.filter((e) => e.account.owner))) {
      const present = await eventsInCalendars(
        db,
        ownerId,
        ofOwner.map((e) => e.uid),
      );
      for (const event of ofOwner) {
        if (present.has(event.uid)) {
          summary.events.alreadyThere++;
          continue;
        }
        if (summary.dryRun) {
          summary.events.recovered++;
          continue;
        }
        try {
          const calendar = await calendarOf(event.account.owner!);
          await putObject(db, calendar!, objectUriForUid(event.uid), event.data, { ifNoneMatch: '*' }, now());
          summary.events.recovered++;
        } catch (error) {
          fail(summary.events, {
            account: event.account.address,
            item: `calendar ${event.calendar} UID ${event.uid}`,
            reason: failureReason(error),
          });
        }
      }
    }
  };
  for await (const row of backup.rows('calendar_objects')) {
    const calendar = calendars.get(Number(row.calendar_id));
    if (!calendar) continue;
    summary.events.inBackup++;
    batch.push({ account: calendar.account, calendar: calendar.uri, uid: String(row.uid), data: String(row.data) });
    if (batch.length >= batchSize) await flush();
  }
  await flush();
}

/** Those of `uids` that some calendar of the owner holds. */
async function eventsInCalendars(db: Kysely<Database>, ownerId: number, uids: string[]): Promise<Set<string>> {
  const present = new Set<string>();
  for (const batch of batches([...new Set(uids)])) {
    const rows = await db
      .selectFrom('calendar_objects')
      .innerJoin('calendars', 'calendars.id', 'calendar_objects.calendar_id')
      .select('calendar_objects.uid')
      .where('calendars.principal_id', '=', ownerId)
      .where('calendar_objects.uid', 'in', batch)
      .execute();
    for (const row of rows) present.add(row.uid);
  }
  return present;
}
