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

/**
 * Users imported at once: each import appends one message at a time and waits for its commit to be
 * on disk; several at once share each fsync (store/commit-modes.ts, group commit).
 */
const concurrentUsers = 12;

await withDirectory(async ({ store, directory }) => {
  if (addUsers)
    for (const [address] of jobs)
      await (await tenantFor(directory, { address })).addPrincipal({
        kind: 'user',
        address,
        password: password!,
        quotaBytes: null,
      });
  const importOne = async ([address, maildir]: [string, string]) => {
    if (!maildir) return;
    const owner = await (await tenantFor(directory, { address })).getPrincipal(address, ['user']);
    const report = new ImportReport();
    await importMaildir(
      { target: await MailTarget.open(store, owner), blobs: store.blobs, report },
      await findMaildirFolders(maildir),
    );
    if (report.totals.failed > 0)
      throw new Error(
        `${report.totals.failed} messages failed to import into ${address}; first: ${report.failures[0]?.reason}`,
      );
  };
  const queue = [...jobs];
  await Promise.all(
    Array.from({ length: concurrentUsers }, async () => {
      for (let job = queue.shift(); job; job = queue.shift()) await importOne(job);
    }),
  );
});
