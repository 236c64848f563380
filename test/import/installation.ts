// A Holdfast installation for the import tests: a store on one backend, `holdfast init`, and users
// (password Wonderland-42) to import into, with a scratch directory beside it.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BackendName, createBackend, type TestBackend } from '../helpers/backends.ts';
import { initHoldfast, loopbackEnv, runHoldfast } from '../helpers/cli.ts';

export interface ImportInstallation {
  backend: TestBackend;
  scratch: string;
  env: Record<string, string>;
  cleanup(): Promise<void>;
}

/** `configure` may write a configuration file into the scratch directory and return its environment. */
export async function importInstallation(
  name: BackendName,
  users: string[],
  configure: (scratch: string) => Promise<Record<string, string>> = async () => ({}),
): Promise<ImportInstallation> {
  const backend = await createBackend(name);
  const scratch = await mkdtemp(join(tmpdir(), 'holdfast-import-'));
  const env = loopbackEnv(backend.dataDir, {
    HOLDFAST_DATABASE_URL: backend.databaseUrl,
    HOLDFAST_ADMIN_PASSWORD: 'Keep-Mail-Flowing-42',
    ...(await configure(scratch)),
  });
  await initHoldfast(env);
  for (const user of users) {
    const added = await runHoldfast(['user', 'add', `${user}@test.example`, '--password', 'Wonderland-42'], { env });
    assert.equal(added.code, 0, added.stderr);
  }
  return {
    backend,
    scratch,
    env,
    cleanup: async () => {
      await backend.cleanup();
      await rm(scratch, { recursive: true, force: true });
    },
  };
}
