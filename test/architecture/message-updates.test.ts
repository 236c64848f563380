// Every update of a messages row gives it a new modseq. Backups rely on it: they recognise a
// segment of the messages table that did not change by its rows' ids, modseqs and contents
// (backup/table-segments.ts), so an update that left modseq alone would go unseen by the next
// backup. IMAP's CONDSTORE relies on it too. This reads every update of the table in src/.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';

const root = join(import.meta.dirname, '..', '..', 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

test('every update of a messages row sets its modseq', () => {
  const updates = /updateTable\(\s*'messages'\s*\)|\bupdate\s+"?messages"?\s+set\b/gi;
  let found = 0;
  for (const file of sourceFiles(root)) {
    if (file.includes(`${join('store', 'migrations')}`)) continue; // a migration changes the schema version, which every segment names
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(updates)) {
      found++;
      // The statement: up to its end (a semicolon) or the next 400 characters.
      const rest = text.slice(match.index, match.index + 400);
      const statement = rest.slice(0, rest.indexOf(';') + 1 || rest.length);
      assert.match(
        statement,
        /modseq/,
        `${relative(root, file)}: an update of messages without a new modseq:\n${statement}`,
      );
    }
  }
  assert.ok(found > 0, 'the updates of messages were found (the pattern still matches the code)');
});
