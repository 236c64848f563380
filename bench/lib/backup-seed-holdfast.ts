// Loads bench/backup's mail into a Holdfast installation (the one HOLDFAST_DATA_DIR and
// HOLDFAST_DATABASE_URL name): adds the users, then imports each one's Maildir with the code of
// `holdfast import maildir` (MailTarget, importMaildir). Run as a child process, one per core, each
// with its share of the users: as `holdfast user add` and `holdfast import maildir` once per user it
// would start 200 processes, which took minutes on a 2-core machine before the first byte of mail.
//
//   node --import tsx bench/lib/backup-seed-holdfast.ts <password> [--add-users] <user@domain>=[<maildir>] ...
//
// A user with no Maildir after the = is only added.
import { withDirectory, tenantFor } from '../../src/cli/context.ts';
import { ImportReport } from '../../src/import-export/import-report.ts';
import { MailTarget } from '../../src/import-export/mail-target.ts';
import { findMaildirFolders, importMaildir } from '../../src/import-export/maildir-import.ts';

const [password, ...rest] = process.argv.slice(2);
const addUsers = rest.includes('--add-users');
const jobs = rest.filter((arg) => arg !== '--add-users').map((arg) => arg.split('=') as [string, string]);

await withDirectory(async ({ store, directory }) => {
  for (const [address, maildir] of jobs) {
    const scope = await tenantFor(directory, { address });
    if (addUsers) await scope.addPrincipal({ kind: 'user', address, password: password!, quotaBytes: null });
    if (!maildir) continue;
    const owner = await scope.getPrincipal(address, ['user']);
    const report = new ImportReport();
    await importMaildir(
      { target: await MailTarget.open(store, owner), blobs: store.blobs, report },
      await findMaildirFolders(maildir),
    );
    const failure = report.failures[0];
    if (report.totals.failed > 0)
      throw new Error(`${report.totals.failed} messages failed to import into ${address}; first: ${failure?.reason}`);
  }
});
