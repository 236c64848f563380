// holdfast resource add|list (rooms, equipment) and holdfast shared add|list (shared mailboxes):
// mailboxes nobody signs in to directly.
import { Option, type Command } from 'commander';
import type { Grant } from '../directory/tenant-directory.ts';
import type { PrincipalKind } from '../store/schema.ts';
import { action, tenantFor, withDirectory } from './context.ts';
import { print, table } from './output.ts';
import { listPrincipals, quotaText, type ListedPrincipal } from './principal-listing.ts';
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
  action<[]>(
    resource.command('list').description('list rooms and equipment').option('--tenant <name>', 'only this tenant'),
    (options) =>
      withDirectory(async ({ directory }) => {
        const rows = await listPrincipals(directory, ['room', 'equipment'], options);
        print(options, rows, () =>
          table(
            ['RESOURCE', 'TYPE', 'NAME', 'TENANT'],
            rows.map((r) => [r.address, r.kind, r.displayName, r.tenant]),
          ),
        );
      }),
  );
}

export function registerSharedMailboxCommands(program: Command) {
  const shared = program.command('shared').description('shared mailboxes (team addresses such as info@ or support@)');
  action<[string]>(
    shared
      .command('add <address>')
      .description('add a shared mailbox')
      .option('--name <display name>', 'display name')
      .option('--quota <size>', 'mailbox quota', 'unlimited'),
    (address, options) => addMailboxPrincipal(address, 'shared', options),
  );
  action<[]>(
    shared
      .command('list')
      .description('list shared mailboxes and who may use them')
      .option('--tenant <name>', 'only this tenant'),
    (options) =>
      withDirectory(async ({ directory }) => {
        const rows: (ListedPrincipal & { grants: Grant[] })[] = [];
        for (const mailbox of await listPrincipals(directory, ['shared'], options)) {
          const scope = await directory.tenant(mailbox.tenant);
          rows.push({ ...mailbox, grants: await scope.listGrants(mailbox.address) });
        }
        const rights = (g: Grant) =>
          [g.fullAccess ? 'full-access' : '', g.sendAs ? 'send-as' : ''].filter(Boolean).join('+');
        print(options, rows, () =>
          table(
            ['SHARED MAILBOX', 'NAME', 'QUOTA', 'GRANTS', 'TENANT'],
            rows.map((r) => [
              r.address,
              r.displayName,
              quotaText(r),
              r.grants.map((g) => `${g.grantee} (${rights(g)})`).join(', ') || '-',
              r.tenant,
            ]),
          ),
        );
      }),
  );

  action<[string, string]>(
    shared
      .command('grant <mailbox> <user>')
      .description('let a user open a shared mailbox (--full-access) and/or send as it (--send-as)')
      .option('--full-access', 'open and manage the mailbox')
      .option('--send-as', 'send mail from its addresses'),
    (mailbox, user, options) =>
      withDirectory(async ({ directory }) => {
        const scope = await tenantFor(directory, { address: mailbox });
        const grant = await scope.grant(mailbox, user, {
          fullAccess: Boolean(options.fullAccess),
          sendAs: Boolean(options.sendAs),
        });
        print(
          options,
          grant,
          () =>
            `${grant.grantee} may now ${[grant.fullAccess ? 'open' : '', grant.sendAs ? 'send as' : ''].filter(Boolean).join(' and ')} ${grant.mailbox}`,
        );
      }),
  );

  action<[string, string]>(
    shared.command('revoke <mailbox> <user>').description("take a user's rights on a shared mailbox away"),
    (mailbox, user, options) =>
      withDirectory(async ({ directory }) => {
        const scope = await tenantFor(directory, { address: mailbox });
        await scope.revoke(mailbox, user);
        print(
          options,
          { mailbox: mailbox.toLowerCase(), revoked: user.toLowerCase() },
          () => `${user.toLowerCase()} has no rights on ${mailbox.toLowerCase()} any more`,
        );
      }),
  );
}

function addMailboxPrincipal(
  address: string,
  kind: PrincipalKind,
  options: { name?: string; quota?: string; json?: boolean },
) {
  return withDirectory(async ({ directory }) => {
    const scope = await tenantFor(directory, { address });
    const added = await scope.addPrincipal({
      kind,
      address,
      displayName: options.name,
      quotaBytes: options.quota ? quota(options.quota) : null,
    });
    print(options, added, () => `added ${kind === 'shared' ? 'shared mailbox' : kind} ${added.address}`);
  });
}
