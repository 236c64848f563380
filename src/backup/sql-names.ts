// Table and column names in SQL text. They come from the database's own catalog, never from input,
// and are quoted all the same (the same quoting works on SQLite and PostgreSQL).
export const quoteIdentifier = (name: string) => `"${name.replaceAll('"', '""')}"`;
