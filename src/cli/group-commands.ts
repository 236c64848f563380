// holdfast group add|list|members and group member add|remove — distribution lists.
import type { Command } from 'commander';
import { action, tenantFor, withDirectory } from './context.ts';
import { print, table } from './output.ts';
import { listPrincipals, type ListedPrincipal } from './principal-listing.ts';

export function registerGroupCommands(program: Command) {
  const group = program.command('group').description('groups (distribution lists; groups may contain groups)');

  action<[string]>(
    group.command('add <address>').description('add a group').option('--name <display name>', 'display name'),
    (address, options) =>
      withDirectory(async ({ directory }) => {
        const scope = await tenantFor(directory, { address });
        const added = await scope.addPrincipal({ kind: 'group', address, displayName: options.name });
        print(options, added, () => `added group ${added.address}`);
      }),
  );

  action<[]>(
    group.command('list').description('list groups and their members').option('--tenant <name>', 'only this tenant'),
    (options) =>
      withDirectory(async ({ directory }) => {
        const rows: (ListedPrincipal & { members: string[] })[] = [];
        for (const g of await listPrincipals(directory, ['group'], options)) {
          const scope = await directory.tenant(g.tenant);
          rows.push({ ...g, members: await scope.membersOf(g.address) });
        }
        print(options, rows, () =>
          table(
            ['GROUP', 'NAME', 'MEMBERS', 'TENANT'],
            rows.map((g) => [g.address, g.displayName, g.members.join(', ') || '-', g.tenant]),
          ),
        );
      }),
  );

  action<[string]>(
    group.command('expand <address>').description('show every final recipient of a group'),
    (address, options) =>
      withDirectory(async ({ directory }) => {
        const scope = await tenantFor(directory, { address });
        const recipients = await scope.expandGroup(address);
        print(options, recipients, () => recipients.join('\n') || '(no recipients)');
      }),
  );

  const member = group.command('member').description('group membership');
  action<[string, string]>(
    member
      .command('add <group> <member>')
      .description('add a member (an address of this tenant, another group, or an outside address)'),
    (groupAddress, memberAddress, options) =>
      withDirectory(async ({ directory }) => {
        const scope = await tenantFor(directory, { address: groupAddress });
        const members = await scope.addGroupMember(groupAddress, memberAddress);
        print(
          options,
          { group: groupAddress.toLowerCase(), members },
          () => `added ${memberAddress.toLowerCase()} to ${groupAddress.toLowerCase()}`,
        );
      }),
  );
  action<[string, string]>(
    member.command('remove <group> <member>').description('remove a member'),
    (groupAddress, memberAddress, options) =>
      withDirectory(async ({ directory }) => {
        const scope = await tenantFor(directory, { address: groupAddress });
        const members = await scope.removeGroupMember(groupAddress, memberAddress);
        print(
          options,
          { group: groupAddress.toLowerCase(), members },
          () => `removed ${memberAddress.toLowerCase()} from ${groupAddress.toLowerCase()}`,
        );
      }),
  );
}
