// holdfast import imap|mbox|maildir|pst|ics: bringing a mailbox's mail and calendars in from another
// server or from files (src/import-export/). Each run can be repeated: what is already there is
// skipped, so an interrupted run is finished by running it again.
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { formatSize } from '../config/size.ts';
import type { Principal } from '../directory/principal.ts';
import { invalid } from '../errors.ts';
import { importIcs } from '../import-export/ics-import.ts';
import { importFromImap } from '../import-export/imap-import.ts';
import { ImportReport } from '../import-export/import-report.ts';
import { MailTarget } from '../import-export/mail-target.ts';
import { findMaildirFolders, importMaildir } from '../import-export/maildir-import.ts';
import { findMboxFiles, importMboxFiles } from '../import-export/mbox-import.ts';
import { withReadpstTree } from '../import-export/pst-import.ts';
import type { Store } from '../store/store.ts';
import {
  action,
  type CommandContext,
  type CommandOptions,
  readPasswordStdin,
  tenantFor,
  withDirectory,
} from './context.ts';
import { progressPrinter } from '../import-export/progress-printer.ts';
import { print, table } from './output.ts';

const mailboxKinds = ['user', 'shared', 'room', 'equipment'] as const;

async function ownerOf({ directory }: CommandContext, address: string): Promise<Principal> {
  return (await tenantFor(directory, { address })).getPrincipal(address, [...mailboxKinds]);
}

/**
 * Runs one mail import with progress, Ctrl-C (stop after the current message, then the summary) and
 * the summary; exit status 1 when anything failed or the run stopped early.
 */
async function runMailImport(
  context: CommandContext,
  options: CommandOptions,
  source: string,
  run: (parts: {
    target: MailTarget;
    blobs: Store['blobs'];
    report: ImportReport;
    signal: AbortSignal;
  }) => Promise<void>,
) {
  const owner = await ownerOf(context, options.to);
  const target = await MailTarget.open(context.store, owner);
  const progress = progressPrinter();
  const report = new ImportReport(progress.listener);
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGINT', stop);
  try {
    await run({ target, blobs: context.store.blobs, report, signal: controller.signal });
  } finally {
    process.removeListener('SIGINT', stop);
    progress.finish();
  }
  const totals = report.totals;
  print(options, { to: owner.address, from: source, ...report.toJSON() }, () =>
    [
      `imported into ${owner.address} from ${source}: ${totals.folders} folder(s), ${totals.copied} message(s) copied (${formatSize(totals.bytesCopied)}), ${totals.skipped} skipped (already there), ${totals.failed} failed`,
      table(
        ['FOLDER', 'INTO', 'FOUND', 'COPIED', 'SKIPPED', 'FAILED', 'NOTE'],
        report.folders.map((f) => [f.source, f.target ?? '-', f.found, f.copied, f.skipped, f.failed, f.note ?? '']),
      ),
      ...(report.failures.length
        ? ['failed:', ...report.failures.map((f) => `  ${f.folder} ${f.message}: ${f.reason}`)]
        : []),
      ...(totals.failed > report.failures.length ? [`  … and ${totals.failed - report.failures.length} more`] : []),
      ...(report.stoppedBy ? [`stopped early (${report.stoppedBy}): run the same command again to copy the rest`] : []),
    ].join('\n'),
  );
  if (totals.failed > 0 || report.stoppedBy) process.exitCode = 1;
}

export function registerImportCommands(program: Command) {
  const group = program
    .command('import')
    .description('bring mail and calendars in from another server or from files (repeatable: copies only what is new)');

  action<[]>(
    group
      .command('imap')
      .description('copy every folder of a mailbox on another IMAP server, with flags and dates')
      .requiredOption('--from <url>', 'the source server: imaps://host:993, or imap://host:143 (STARTTLS)')
      .requiredOption('--user <name>', 'the user name on the source server')
      .option('--password-stdin', 'read the source password (or app password) from standard input')
      .option('--access-token-stdin', 'read an OAuth 2.0 access token from standard input (SASL XOAUTH2)')
      .option('--insecure', "accept the source's certificate without verifying it (test servers only)")
      .requiredOption('--to <address>', 'the Holdfast mailbox to copy into'),
    (options) =>
      withDirectory(async (context) => {
        if (Boolean(options.passwordStdin) === Boolean(options.accessTokenStdin))
          throw invalid('invalid-usage', 'give one of --password-stdin or --access-token-stdin');
        const secret = await readPasswordStdin();
        await runMailImport(context, options, options.from, (parts) =>
          importFromImap(parts, {
            url: options.from,
            user: options.user,
            password: options.passwordStdin ? secret : undefined,
            accessToken: options.accessTokenStdin ? secret : undefined,
            insecure: Boolean(options.insecure),
            maxMessageSize: context.config.imap.appendLimit,
          }),
        );
      }),
  );

  action<[string]>(
    group
      .command('mbox <path>')
      .description('import an mbox file, or a directory of them (readpst -r output, an export) one folder each')
      .requiredOption('--to <address>', 'the Holdfast mailbox to import into')
      .option('--folder <name>', 'the folder for a file (default INBOX); for a directory, the folder to put it under'),
    (path, options) =>
      withDirectory(async (context) => {
        const files = await findMboxFiles(path, options.folder);
        await runMailImport(context, options, path, (parts) => importMboxFiles(parts, files));
      }),
  );

  action<[string]>(
    group
      .command('maildir <directory>')
      .description('import a Maildir++ directory (Dovecot, Courier): the INBOX and every .Folder, with flags')
      .requiredOption('--to <address>', 'the Holdfast mailbox to import into'),
    (directory, options) =>
      withDirectory(async (context) => {
        const folders = await findMaildirFolders(directory);
        await runMailImport(context, options, directory, (parts) => importMaildir(parts, folders));
      }),
  );

  action<[string]>(
    group
      .command('pst <file>')
      .description("import an Outlook PST (or OST) file's mail, one folder each, through readpst (Debian's pst-utils)")
      .requiredOption('--to <address>', 'the Holdfast mailbox to import into')
      .option(
        '--folder <name>',
        'put the whole PST under this folder (default: its folders at the top, Inbox into INBOX)',
      ),
    (file, options) =>
      withDirectory(async (context) => {
        await ownerOf(context, options.to); // an unknown mailbox is refused before readpst runs
        await withReadpstTree(file, async (tree) => {
          const files = await findMboxFiles(tree, options.folder);
          await runMailImport(context, options, file, (parts) => importMboxFiles(parts, files));
        });
      }),
  );

  action<[string]>(
    group
      .command('ics <file>')
      .description('import events and tasks from an iCalendar file into a calendar, one object per UID')
      .requiredOption('--to <address>', 'whose calendar')
      .option('--calendar <name>', 'the calendar (made if missing; default: the default calendar)'),
    (file, options) =>
      withDirectory(async (context) => {
        const owner = await ownerOf(context, options.to);
        const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
          throw invalid(
            'no-such-file',
            `cannot read ${file}: ${error.code === 'ENOENT' ? 'it does not exist' : error.message}`,
          );
        });
        const report = await importIcs(context.store.db, owner, text, { name: file, calendar: options.calendar });
        print(options, { to: owner.address, from: file, ...report }, () =>
          [
            `imported ${file} into ${owner.address}'s calendar ${report.calendar}: ${report.found} object(s), ${report.created} created, ${report.updated} updated, ${report.unchanged} unchanged, ${report.failed} failed`,
            ...report.failures.map((f) => `  ${f.reason}`),
          ].join('\n'),
        );
        if (report.failed > 0) process.exitCode = 1;
      }),
  );
}
