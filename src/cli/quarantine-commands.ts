// holdfast quarantine list|show|release|delete|expire — messages the spam and malware filter held
// (filtering/quarantine.ts), and holdfast senders allow|block|remove|list — the allow and block lists
// read before the spam verdict (filtering/sender-lists.ts). `--tenant` holds every command to one
// tenant: an id from another tenant is not found, as for that tenant's administrators.
import type { Command } from 'commander';
import type { Directory } from '../directory/directory.ts';
import {
  deleteQuarantined,
  expireQuarantine,
  listQuarantine,
  quarantined,
  quarantinedText,
  quarantineScope,
  releaseQuarantined,
  shownEntry,
  type QuarantineEntry,
} from '../filtering/quarantine.ts';
import { pausedSenders, resumeSending } from '../filtering/outbound-spam.ts';
import { addListEntry, listEntries, removeListEntry, type ListName } from '../filtering/sender-lists.ts';
import { principalById } from '../directory/principal.ts';
import { action, type CommandOptions, integerOption, tenantFor, withDirectory } from './context.ts';
import { print, table, timeText } from './output.ts';

const scopeOf = (directory: Directory, options: CommandOptions) =>
  quarantineScope(directory, { tenant: options.tenant, user: options.user });

function describeEntry(e: QuarantineEntry): string {
  return [
    `quarantined message ${e.id}`,
    `recipient:  ${e.recipient}`,
    `sender:     ${e.sender || '<>'}`,
    `subject:    ${e.subject ?? '-'}`,
    `message-id: ${e.messageId ?? '-'}`,
    `received:   ${timeText(e.receivedAt)} from ${e.clientIp}`,
    `reason:     ${e.reason}${e.score === null ? '' : ` (score ${e.score})`}`,
    `detail:     ${e.detail}`,
    `size:       ${e.size} bytes`,
    `expires:    ${timeText(e.expiresAt)}`,
  ].join('\n');
}

export function registerQuarantineCommands(program: Command) {
  const quarantine = program
    .command('quarantine')
    .description('messages held by the spam and malware filter: list, read, release to the INBOX, delete');

  action<[]>(
    quarantine
      .command('list')
      .description('held messages, newest first')
      .option('--tenant <name>', 'only this tenant')
      .option('--user <address>', "only this user's")
      .option('--reason <reason>', 'only spam, malware or blocked')
      .option('--limit <n>', 'at most this many (default 100)', integerOption('--limit')),
    (options) =>
      withDirectory(async ({ directory, store }) => {
        const entries = await listQuarantine(store.db, await scopeOf(directory, options), {
          limit: options.limit,
          reason: options.reason,
        });
        print(options, entries.map(shownEntry), () =>
          entries.length
            ? table(
                ['ID', 'RECEIVED', 'RECIPIENT', 'SENDER', 'REASON', 'SCORE', 'SUBJECT'],
                entries.map((e) => [
                  e.id,
                  timeText(e.receivedAt),
                  e.recipient,
                  e.sender || '<>',
                  e.reason,
                  e.score ?? '-',
                  (e.subject ?? '').slice(0, 50),
                ]),
              )
            : 'no quarantined messages',
        );
      }),
  );

  action<[string]>(
    quarantine
      .command('show <id>')
      .description('why a message was held, and with --text the whole message')
      .option('--tenant <name>', 'only within this tenant')
      .option('--text', 'print the whole message as received'),
    (id, options) =>
      withDirectory(async ({ directory, store }) => {
        const entry = await quarantined(store.db, Number(id), await scopeOf(directory, options));
        if (options.text) {
          process.stdout.write(await quarantinedText(store, entry));
          return;
        }
        print(options, shownEntry(entry), () => describeEntry(entry));
      }),
  );

  action<[string]>(
    quarantine
      .command('release <id>')
      .description("deliver a held message to its recipient's INBOX")
      .option('--tenant <name>', 'only within this tenant'),
    (id, options) =>
      withDirectory(async ({ directory, store }) => {
        const { entry, uid } = await releaseQuarantined(
          store,
          Number(id),
          await scopeOf(directory, options),
          Date.now(),
        );
        print(
          options,
          { id: entry.id, recipient: entry.recipient, folder: 'INBOX', uid },
          () => `released message ${entry.id} to ${entry.recipient} INBOX (uid ${uid})`,
        );
      }),
  );

  action<[string]>(
    quarantine
      .command('delete <id>')
      .description('delete a held message for good')
      .option('--tenant <name>', 'only within this tenant'),
    (id, options) =>
      withDirectory(async ({ directory, store }) => {
        const entry = await deleteQuarantined(store.db, Number(id), await scopeOf(directory, options));
        print(options, { id: entry.id, deleted: true }, () => `deleted quarantined message ${entry.id}`);
      }),
  );

  action<[]>(
    quarantine.command('expire').description('delete what is past its retention now (the server does it hourly)'),
    (options) =>
      withDirectory(async ({ store }) => {
        const deleted = await expireQuarantine(store.db, Date.now());
        print(options, { deleted }, () => `deleted ${deleted} expired quarantined message(s)`);
      }),
  );
}

export function registerSenderListCommands(program: Command) {
  const senders = program
    .command('senders')
    .description("allow and block lists of senders (address or domain), a tenant's or a user's");
  const owner = async (directory: Directory, options: CommandOptions) => {
    if (options.user) {
      const user = await (await tenantFor(directory, { address: options.user })).getPrincipal(options.user, ['user']);
      return { tenantId: user.tenantId, principalId: user.id as number | null, label: user.address };
    }
    const tenant = await directory.getTenant(options.tenant ?? 'default');
    return { tenantId: tenant.id, principalId: null, label: `tenant ${tenant.name}` };
  };
  for (const list of ['allow', 'block'] as ListName[]) {
    action<[string]>(
      senders
        .command(`${list} <sender>`)
        .description(
          list === 'allow'
            ? 'deliver mail from this sender to the INBOX whatever the spam verdict (malware is still refused)'
            : "a user's block: to Junk; a tenant's block: to quarantine",
        )
        .option('--user <address>', "the user's own list")
        .option('--tenant <name>', "the tenant's list (default: the tenant default)"),
      (sender, options) =>
        withDirectory(async ({ directory, store }) => {
          const who = await owner(directory, options);
          await addListEntry(store.db, { ...who, list, sender }, Date.now());
          print(options, { owner: who.label, list, sender }, () => `${sender} is on the ${list} list of ${who.label}`);
        }),
    );
  }
  action<[string]>(
    senders
      .command('remove <sender>')
      .description('take a sender off the list it is on')
      .option('--user <address>', "the user's own list")
      .option('--tenant <name>', "the tenant's list"),
    (sender, options) =>
      withDirectory(async ({ directory, store }) => {
        const who = await owner(directory, options);
        await removeListEntry(store.db, { ...who, sender });
        print(
          options,
          { owner: who.label, sender, removed: true },
          () => `${sender} removed from the lists of ${who.label}`,
        );
      }),
  );
  action<[]>(
    senders
      .command('list')
      .description("a tenant's or a user's entries")
      .option('--user <address>', "the user's own list")
      .option('--tenant <name>', "the tenant's list"),
    (options) =>
      withDirectory(async ({ directory, store }) => {
        const who = await owner(directory, options);
        const entries = await listEntries(store.db, who.tenantId, who.principalId);
        print(options, entries, () =>
          entries.length
            ? table(
                ['LIST', 'SENDER', 'ADDED'],
                entries.map((e) => [e.list, e.sender, timeText(e.createdAt)]),
              )
            : `no entries for ${who.label}`,
        );
      }),
  );

  action<[]>(
    senders
      .command('paused')
      .description('users whose sending is paused because their mail was taken for spam')
      .option('--tenant <name>', 'only this tenant'),
    (options) =>
      withDirectory(async ({ directory, store }) => {
        const tenantId = options.tenant ? (await directory.getTenant(options.tenant)).id : undefined;
        const paused = await Promise.all(
          (await pausedSenders(store.db, tenantId)).map(async (p) => ({
            user: (await principalById(store.db, p.principalId)).address,
            ...p,
          })),
        );
        print(options, paused, () =>
          paused.length
            ? table(
                ['USER', 'PAUSED', 'STRIKES', 'LAST VERDICT'],
                paused.map((p) => [p.user, timeText(p.pausedAt), p.strikes, p.detail]),
              )
            : 'no paused senders',
        );
      }),
  );
  action<[string]>(senders.command('resume <user>').description('let a paused user send again'), (address, options) =>
    withDirectory(async ({ directory, store }) => {
      const user = await (await tenantFor(directory, { address })).getPrincipal(address, ['user']);
      await resumeSending(store.db, user.id);
      print(options, { user: user.address, resumed: true }, () => `${user.address} may send again`);
    }),
  );
}
