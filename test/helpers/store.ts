// A migrated store on a test backend, with a controllable clock.
import { Directory } from '../../src/directory/directory.ts';
import { openStore, type Store } from '../../src/store/store.ts';
import { createBackend, type BackendName, type TestBackend } from './backends.ts';

export interface TestStore {
  backend: TestBackend;
  store: Store;
  directory: Directory;
  close(): Promise<void>;
}

export async function createTestStore(name: BackendName): Promise<TestStore> {
  const backend = await createBackend(name);
  const { store } = await openStore({ location: backend.location, dataDir: backend.dataDir });
  return {
    backend,
    store,
    directory: new Directory(store.db),
    close: async () => {
      await store.close();
      await backend.cleanup();
    },
  };
}
