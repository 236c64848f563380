// An installation is the store the server uses with its directory set up (by `holdfast start` or
// `holdfast init`). Administrative commands open only an existing one: run from another directory,
// or without the server's settings, they must say where they looked instead of quietly creating a
// second installation with its own tenant and administrator.
import { existsSync } from 'node:fs';
import { configFileCandidates } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import { Directory } from '../directory/directory.ts';
import { notFound } from '../errors.ts';
import { describeLocation } from '../store/database.ts';
import { openStore, storeExists, type Store } from '../store/store.ts';

type Env = Record<string, string | undefined>;

/** Opens the installation's store, or explains where none was found. */
export async function openInstallation(config: Config, env: Env = process.env, cwd = process.cwd()): Promise<Store> {
  if (!(await storeExists(config.database))) {
    throw missingInstallation(
      config,
      config.database.kind === 'sqlite' ? 'does not exist' : 'has no Holdfast schema',
      env,
      cwd,
    );
  }
  const { store } = await openStore({ location: config.database, dataDir: config.dataDir });
  if (await new Directory(store.db).hasGlobalAdmin()) return store;
  await store.close();
  throw missingInstallation(config, 'has no administrator yet (its first start did not finish)', env, cwd);
}

function missingInstallation(config: Config, problem: string, env: Env, cwd: string) {
  const candidates = configFileCandidates(env, cwd);
  // Files after the one read were not consulted.
  const consulted = config.configFile ? candidates.slice(0, candidates.indexOf(config.configFile) + 1) : candidates;
  const files = consulted.map(
    (file) => `${file} (${file === config.configFile ? 'read' : existsSync(file) ? 'not read' : 'not found'})`,
  );
  const database = `${describeLocation(config.database)}${env.HOLDFAST_DATABASE_URL ? ' (HOLDFAST_DATABASE_URL)' : ''}`;
  const dataDir = `${config.dataDir}${env.HOLDFAST_DATA_DIR ? ' (HOLDFAST_DATA_DIR)' : ''}`;
  return notFound(
    'no-installation',
    `no Holdfast installation found: the database ${database} ${problem}; data directory ${dataDir}; ` +
      `configuration looked for in ${files.join(', ')}. ` +
      `Run the command with the server's configuration (HOLDFAST_CONFIG, or the server's HOLDFAST_DATA_DIR / HOLDFAST_DATABASE_URL), ` +
      `or set up a new installation with "holdfast init" (or "holdfast start")`,
  );
}
