// Where backups go when no --to is given: beside the data, under <data dir>/backups/snapshots/.
// (<data dir>/backups/ itself also holds the copies an upgrade keeps of an SQLite database,
// holdfast-schema-v*.sqlite, which backups leave alone.) A backup on the same disk protects against
// mistakes, not against losing the disk: the operations guide says to give --to another one.
import { join } from 'node:path';

export const defaultBackupDir = (dataDir: string) => join(dataDir, 'backups', 'snapshots');
