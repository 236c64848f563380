// holdfast tenant add|list|show|set — organisations, each in one resource forest (set --forest moves
// one), and the settings their administrator sets for the whole organisation (directory/tenant-settings.ts).
import type { Command } from 'commander';
import { invalid } from '../errors.ts';
import {
  parseExternalForwarding,
  setTenantSettings,
  type TenantSettings,
  tenantSettings,
} from '../directory/tenant-settings.ts';
import { action, withDirectory } from './context.ts';
import { print, table } from './output.ts';

function describeSettings(name: string, forest: string, settings: TenantSettings): string {
  return [
    `tenant ${name} (resource forest ${forest})`,
    `external forwarding: ${settings.externalForwarding}${settings.externalForwarding === 'block' ? " (users' rules may not forward mail outside the organisation)" : ''}`,
  ].join('\n');
}

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

  action<[string]>(tenant.command('show <name>').description('show a tenant and its settings'), (name, options) =>
    withDirectory(async ({ directory, store }) => {
      const found = await directory.getTenant(name);
      const settings = await tenantSettings(store.db, found.id);
      print(options, { ...found, settings }, () => describeSettings(found.name, found.forest, settings));
    }),
  );

  action<[string]>(
    tenant
      .command('set <name>')
      .description("change a tenant's settings")
      .option(
        '--external-forwarding <allow|block>',
        "whether users' rules may forward mail to addresses outside the organisation",
      )
      .option('--forest <name>', 'move the tenant into this resource forest'),
    (name, options) =>
      withDirectory(async ({ directory, store }) => {
        let found = await directory.getTenant(name);
        if (options.externalForwarding === undefined && options.forest === undefined)
          throw invalid('nothing-to-set', 'say what to change, e.g. --external-forwarding block or --forest eu');
        const externalForwarding =
          options.externalForwarding === undefined
            ? undefined
            : parseExternalForwarding(String(options.externalForwarding));
        if (options.forest !== undefined) found = await directory.moveTenant(found.name, String(options.forest));
        const settings = await setTenantSettings(store.db, found.id, { externalForwarding }, Date.now());
        print(options, { ...found, settings }, () => describeSettings(found.name, found.forest, settings));
      }),
  );
}
