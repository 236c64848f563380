// Long lists of keys are queried in batches: `where x in (...)` with tens of thousands of parameters
// exceeds what SQLite and PostgreSQL accept in one statement.
export const batchSize = 500;

export function* batches<T>(list: T[], size = batchSize): Generator<T[]> {
  for (let i = 0; i < list.length; i += size) yield list.slice(i, i + size);
}
