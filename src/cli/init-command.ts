// holdfast init — set up a new installation without starting the server: the store, and the first
// run's forest, tenant, domain and administrator (what the first `holdfast start` does too).
import type { Command } from 'commander';
import { loadConfig } from '../config/load.ts';
import { bootstrapDirectory } from '../directory/bootstrap.ts';
import { Directory } from '../directory/directory.ts';
import { firstRunNotice } from '../server/startup-summary.ts';
import { describeLocation } from '../store/database.ts';
import { openStore } from '../store/store.ts';
import { action } from './context.ts';
import { print } from './output.ts';

export function registerInitCommand(program: Command) {
  action<[]>(
    program
      .command('init')
      .description(
        'set up a new installation (store, first tenant, domain and administrator) where the configuration points',
      ),
    async (options) => {
      const config = loadConfig();
      const { store } = await openStore({ location: config.database, dataDir: config.dataDir });
      try {
        const bootstrap = await bootstrapDirectory(new Directory(store.db), {
          domain: config.domain,
          adminPassword: config.adminPassword,
        });
        const where = describeLocation(config.database);
        // Running it again changes nothing, so scripts may run it before every deployment.
        print(
          options,
          { ...bootstrap, store: where, dataDir: config.dataDir, configFile: config.configFile ?? null },
          () =>
            bootstrap.created
              ? [`set up Holdfast in ${where}`, ...firstRunNotice(bootstrap)].join('\n')
              : `Holdfast is already set up in ${where}; nothing changed`,
        );
      } finally {
        await store.close();
      }
    },
  );
}
