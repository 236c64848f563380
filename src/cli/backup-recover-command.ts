// holdfast backup recover — a partial restore: one tenant's, user's or folder's mail (and an
// account's calendar events) that the live system no longer has, back from a backup into a
// "Recovered" folder and calendar, without changing anything that is there (backup/partial-restore.ts).
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { RecoverySummary } from '../backup/partial-restore.ts';
import { invalid } from '../errors.ts';
import { action, tenantFor, withDirectory } from './context.ts';
import { print } from './output.ts';

const mailboxKinds = ['user', 'shared', 'room', 'equipment'] as const;

export function registerBackupRecoverCommand(program: Command) {
  const backup = program.commands.find((c) => c.name() === 'backup')!;
  action<[string]>(
    backup
      .command('recover <dir>')
      .description(
        'put back what a tenant, user or folder lost since the backup, into a "Recovered" folder and calendar; nothing else changes',
      )
      .option('--tenant <name>', 'every mailbox of this tenant')
      .option('--user <address>', 'one mailbox (a user, shared mailbox, room or equipment)')
      .option('--folder <name>', 'only this folder of --user')
      .option(
        '--received-since <time>',
        'only mail received at or after this time, UTC unless a zone is given (2026-12-01, 2026-12-01T08:00, 2026-12-01T09:00+01:00)',
      )
      .option('--received-until <time>', 'only mail received before this time (the end is not included)')
      .option('--into <name>', 'the folder and calendar recovered items go into', 'Recovered')
      .option('--dry-run', 'count what would come back, change nothing'),
    (dir, options) =>
      withDirectory(async ({ store, directory }) => {
        // Loaded here, not with the command group: recovering parses messages (MIME, charsets), which
        // every other `holdfast backup` command would otherwise load at start for nothing.
        const { recoverFromBackup } = await import('../backup/partial-restore.ts');
        const summary = await recoverFromBackup(
          resolve(dir),
          {
            store,
            findOwner: async (address) => {
              try {
                return await (await tenantFor(directory, { address })).getPrincipal(address, [...mailboxKinds]);
              } catch (error) {
                if ((error as { kind?: string }).kind === 'not-found') return undefined;
                throw error;
              }
            },
          },
          {
            tenant: options.tenant,
            user: options.user,
            folder: options.folder,
            receivedSince: timeOption('--received-since', options.receivedSince),
            receivedUntil: timeOption('--received-until', options.receivedUntil),
            into: options.into,
            dryRun: Boolean(options.dryRun),
          },
        );
        print(options, summary, () => recoveryText(summary));
        // Not everything asked for came back: an account that no longer exists, an item that failed.
        if (summary.messages.failed || summary.events.failed || summary.accountsMissing.length) process.exitCode = 1;
      }),
  );
}

function timeOption(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  // A time without a zone is UTC, as a date alone is (Date.parse would read it as local time).
  const time = Date.parse(/T\d\d:\d\d(:\d\d(\.\d+)?)?$/.test(value) ? `${value}Z` : value);
  if (Number.isNaN(time))
    throw invalid(
      'bad-option',
      `${name} = ${value}: not a time; give a date (2026-12-01) or a time (2026-12-01T08:00Z)`,
    );
  return time;
}

function recoveryText(s: RecoverySummary): string {
  const verb = s.dryRun ? 'would recover' : 'recovered';
  const lines = [
    `${verb} ${s.messages.recovered} message(s) into "${s.into}/…" and ${s.events.recovered} event(s) into the calendar "${s.into}" for ${s.accounts - s.accountsMissing.length} account(s), from backup ${s.backup}`,
    `  in the backup: ${s.messages.inBackup} message(s), ${s.events.inBackup} event(s); already there: ${s.messages.alreadyThere} message(s), ${s.events.alreadyThere} event(s)`,
  ];
  if (s.accountsMissing.length)
    lines.push(
      `  not recovered: ${s.accountsMissing.join(', ')} no longer exist(s); add the account again (holdfast user add) and run this again`,
    );
  const failed = s.messages.failed + s.events.failed;
  if (failed) {
    lines.push(`  ${failed} item(s) failed:`);
    for (const f of s.failures) lines.push(`    ${f.account} ${f.item}: ${f.reason}`);
  }
  return lines.join('\n');
}
