// Opens the snapshot of a store on its own backend (sqlite-snapshot.ts, postgres-snapshot.ts); what a
// snapshot is: snapshot-shape.ts.
import type { Store } from '../store/store.ts';
import type { StoreSnapshot } from './snapshot-shape.ts';
import { tablesToCopy } from './table-catalog.ts';

export type { ContentReference, StoreSnapshot } from './snapshot-shape.ts';

export async function openSnapshot(store: Store): Promise<StoreSnapshot> {
  // The catalog is read from the store's own connection: the schema does not change under a running
  // server (a migration needs a restart of every node).
  const tables = await tablesToCopy(store.db, store.dialect);
  const location = store.handle.location;
  if (location.kind === 'sqlite')
    return (await import('./sqlite-snapshot.ts')).openSqliteSnapshot(location.path, tables);
  return (await import('./postgres-snapshot.ts')).openPostgresSnapshot(location.url, tables);
}
