// holdfast export: one mailbox's mail and calendars as files other systems read (an mbox per
// folder, an .ics per calendar), for leaving Holdfast or keeping a portable copy.
import type { Command } from 'commander';
import { formatSize } from '../config/size.ts';
import { exportAccount } from '../import-export/account-export.ts';
import { action, tenantFor, withDirectory } from './context.ts';
import { print, table } from './output.ts';

export function registerExportCommand(program: Command) {
  action<[string]>(
    program
      .command('export <address>')
      .description("write a mailbox's folders as mbox files and its calendars as .ics files into a new directory")
      .requiredOption('--to <directory>', 'a directory that does not exist yet (or is empty)'),
    (address, options) =>
      withDirectory(async ({ directory, store }) => {
        const owner = await (await tenantFor(directory, { address })).getPrincipal(address, [
          'user',
          'shared',
          'room',
          'equipment',
        ]);
        const report = await exportAccount(store, owner, options.to);
        const messages = report.folders.reduce((n, f) => n + f.messages, 0);
        const bytes = report.folders.reduce((n, f) => n + f.bytes, 0);
        print(options, report, () =>
          [
            `exported ${owner.address} to ${report.directory}: ${report.folders.length} folder(s), ${messages} message(s) (${formatSize(bytes)}), ${report.calendars.length} calendar(s)`,
            table(
              ['FILE', 'HOLDS'],
              [
                ...report.folders.map((f) => [f.file, `${f.messages} message(s) of ${f.name}`]),
                ...report.calendars.map((c) => [c.file, `${c.objects} object(s) of calendar ${c.calendar}`]),
              ],
            ),
          ].join('\n'),
        );
      }),
  );
}
