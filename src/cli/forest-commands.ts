// holdfast forest add|set|list — resource forests: capacity partitions that tenants belong to.
import type { Command } from 'commander';
import { action, integerOption, withDirectory } from './context.ts';
import { print, table } from './output.ts';

export function registerForestCommands(program: Command) {
  const forest = program.command('forest').description('resource forests (capacity partitions of tenants)');

  action<[string]>(
    forest
      .command('add <name>')
      .description('add a resource forest')
      .option(
        '--max-connections <n>',
        'concurrent SMTP connections allowed for all its tenants',
        integerOption('--max-connections'),
      ),
    (name, options) =>
      withDirectory(async ({ directory }) => {
        const added = await directory.addForest({ name, maxConnections: options.maxConnections });
        print(options, added, () => `added resource forest ${added.name} (max connections ${added.maxConnections})`);
      }),
  );

  action<[string]>(
    forest
      .command('set <name>')
      .description("change a resource forest's limits")
      .option('--max-connections <n>', 'concurrent SMTP connections allowed', integerOption('--max-connections')),
    (name, options) =>
      withDirectory(async ({ directory }) => {
        const updated = await directory.setForest(name, { maxConnections: options.maxConnections });
        print(options, updated, () => `resource forest ${updated.name}: max connections ${updated.maxConnections}`);
      }),
  );

  action<[]>(forest.command('list').description('list resource forests'), (options) =>
    withDirectory(async ({ directory }) => {
      const forests = await directory.listForests();
      print(options, forests, () =>
        table(
          ['FOREST', 'MAX CONNECTIONS', 'TENANTS'],
          forests.map((f) => [f.name, f.maxConnections, f.tenants]),
        ),
      );
    }),
  );
}
