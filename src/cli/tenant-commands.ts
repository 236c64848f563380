// holdfast tenant add|list — organisations, each in one resource forest.
import type { Command } from 'commander';
import { action, withDirectory } from './context.ts';
import { print, table } from './output.ts';

export function registerTenantCommands(program: Command) {
  const tenant = program.command('tenant').description('tenants (organisations)');

  action<[string]>(
    tenant.command('add <name>').description('add a tenant').option('--forest <name>', 'resource forest', 'default'),
    (name, options) =>
      withDirectory(async ({ directory }) => {
        const added = await directory.addTenant({ name, forest: options.forest });
        print(options, added, () => `added tenant ${added.name} in resource forest ${added.forest}`);
      }),
  );

  action<[]>(tenant.command('list').description('list tenants'), (options) =>
    withDirectory(async ({ directory }) => {
      const tenants = await directory.listTenants();
      print(options, tenants, () =>
        table(
          ['TENANT', 'FOREST'],
          tenants.map((t) => [t.name, t.forest]),
        ),
      );
    }),
  );
}
