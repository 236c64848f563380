// holdfast resource add|list (rooms, equipment) and holdfast shared add|list (shared mailboxes):
// mailboxes nobody signs in to directly.
import { Option, type Command } from 'commander';
import type { PrincipalKind } from '../store/schema.ts';
import { action, tenantFor, withDirectory } from './context.ts';
import { print, table } from './output.ts';
import { listPrincipals, quotaText } from './principal-listing.ts';
import { quota } from './user-commands.ts';

export function registerResourceCommands(program: Command) {
  const resource = program.command('resource').description('rooms and equipment that can be booked');
  action<[string]>(
    resource
      .command('add <address>')
      .description('add a room or piece of equipment')
      .addOption(new Option('--type <type>', 'kind of resource').choices(['room', 'equipment']).makeOptionMandatory())
      .option('--name <display name>', 'display name'),
    (address, options) => addMailboxPrincipal(address, options.type as PrincipalKind, options),
  );
  action<[]>(resource.command('list').description('list rooms and equipment').option('--tenant <name>', 'only this tenant'), (options) =>
    withDirectory(async ({ directory }) => {
      const rows = await listPrincipals(directory, ['room', 'equipment'], options);
      print(options, rows, () => table(['RESOURCE', 'TYPE', 'NAME', 'TENANT'], rows.map((r) => [r.address, r.kind, r.displayName, r.tenant])));
    }),
  );
}

export function registerSharedMailboxCommands(program: Command) {
  const shared = program.command('shared').description('shared mailboxes (team addresses such as info@ or support@)');
  action<[string]>(
    shared.command('add <address>').description('add a shared mailbox').option('--name <display name>', 'display name').option('--quota <size>', 'mailbox quota', 'unlimited'),
    (address, options) => addMailboxPrincipal(address, 'shared', options),
  );
  action<[]>(shared.command('list').description('list shared mailboxes').option('--tenant <name>', 'only this tenant'), (options) =>
    withDirectory(async ({ directory }) => {
      const rows = await listPrincipals(directory, ['shared'], options);
      print(options, rows, () => table(['SHARED MAILBOX', 'NAME', 'QUOTA', 'TENANT'], rows.map((r) => [r.address, r.displayName, quotaText(r), r.tenant])));
    }),
  );
}

function addMailboxPrincipal(address: string, kind: PrincipalKind, options: { name?: string; quota?: string; json?: boolean }) {
  return withDirectory(async ({ directory }) => {
    const scope = await tenantFor(directory, { address });
    const added = await scope.addPrincipal({ kind, address, displayName: options.name, quotaBytes: options.quota ? quota(options.quota) : null });
    print(options, added, () => `added ${kind === 'shared' ? 'shared mailbox' : kind} ${added.address}`);
  });
}
