// A `holdfast start` of the real program for the --workers tests: a fresh store, a configuration
// file, the user alice, whatever CLI set-up the test needs, then the server with the given arguments.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestBackend } from '../helpers/backends.ts';
import { initHoldfast, loopbackEnv, runHoldfast, startHoldfast, type StartedServer } from '../helpers/cli.ts';

export const alicePassword = 'Wonderland-42';

/** Starts `holdfast start <args>` on `backend` with `toml`, alice, and each of `commands` run first (`holdfast …`). */
export async function startWithAlice(
  backend: TestBackend,
  toml: string,
  args: string[],
  commands: string[][] = [],
): Promise<StartedServer> {
  const configFile = join(backend.dataDir, 'holdfast.toml');
  await writeFile(configFile, toml);
  const env = loopbackEnv(backend.dataDir, {
    HOLDFAST_DATABASE_URL: backend.databaseUrl,
    HOLDFAST_ADMIN_PASSWORD: 'Keep-Mail-Flowing-42',
    HOLDFAST_CONFIG: configFile,
  });
  await initHoldfast(env);
  for (const command of [['user', 'add', 'alice@test.example', '--password', alicePassword], ...commands]) {
    const done = await runHoldfast(command, { env });
    assert.equal(done.code, 0, done.stderr);
  }
  return startHoldfast(env, args);
}
