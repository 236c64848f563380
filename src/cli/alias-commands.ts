// holdfast alias add|list|remove — more addresses for a user, shared mailbox, group or resource.
import type { Command } from 'commander';
import { action, tenantFor, tenantsFor, withDirectory } from './context.ts';
import { print, table } from './output.ts';

export function registerAliasCommands(program: Command) {
  const alias = program.command('alias').description('aliases (extra addresses)');

  action<[string, string]>(
    alias.command('add <alias> <target>').description('make <alias> deliver to <target>'),
    (aliasAddress, target, options) =>
      withDirectory(async ({ directory }) => {
        const scope = await tenantFor(directory, { address: aliasAddress });
        const added = await scope.addAlias(aliasAddress, target);
        print(options, added, () => `added alias ${added.alias} → ${added.target}`);
      }),
  );

  action<[]>(
    alias.command('list').description('list aliases').option('--tenant <name>', 'only this tenant'),
    (options) =>
      withDirectory(async ({ directory }) => {
        const rows: { alias: string; target: string; tenant: string }[] = [];
        for (const { tenant, scope } of await tenantsFor(directory, options.tenant)) {
          for (const a of await scope.listAliases()) rows.push({ ...a, tenant: tenant.name });
        }
        print(options, rows, () =>
          table(
            ['ALIAS', 'TARGET', 'TENANT'],
            rows.map((a) => [a.alias, a.target, a.tenant]),
          ),
        );
      }),
  );

  action<[string]>(alias.command('remove <alias>').description('remove an alias'), (aliasAddress, options) =>
    withDirectory(async ({ directory }) => {
      const scope = await tenantFor(directory, { address: aliasAddress });
      await scope.removeAlias(aliasAddress);
      print(options, { removed: aliasAddress.toLowerCase() }, () => `removed alias ${aliasAddress.toLowerCase()}`);
    }),
  );
}
