// The folders of src/ form layers: no folder imports, directly or through others, a folder that
// imports it back (type-only imports count too: they tie the folders' designs together). Biome's
// noImportCycles checks the same for single files (`npx biome ci`); this checks whole folders, with
// protocols/<name> each a folder of its own. docs/architecture.md draws the layers.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';
import { test } from 'node:test';

const root = join(import.meta.dirname, '..', '..', 'src');
const importSpec =
  /^(?:import|export)\s[^;]*?\sfrom\s+'(\.[^']+)'|^import\s+'(\.[^']+)'|\bimport\(\s*'(\.[^']+)'\s*\)/gm;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

/** The layer a file belongs to: its top folder under src/, or protocols/<name>; files at the top are their own. */
function folderOf(file: string): string {
  const parts = relative(root, file).split(sep);
  if (parts[0] === 'protocols' && parts.length > 2) return `protocols/${parts[1]}`;
  return parts[0]!;
}

/** For each folder, the folders it imports, with one file-level import that shows each edge. */
function folderGraph(): Map<string, Map<string, string>> {
  const graph = new Map<string, Map<string, string>>();
  for (const file of sourceFiles(root)) {
    const from = folderOf(file);
    const edges = graph.get(from) ?? new Map<string, string>();
    graph.set(from, edges);
    for (const match of readFileSync(file, 'utf8').matchAll(importSpec)) {
      const target = normalize(join(dirname(file), match[1] ?? match[2] ?? match[3]!));
      const to = folderOf(target);
      if (to !== from && !edges.has(to)) edges.set(to, `${relative(root, file)} imports ${relative(root, target)}`);
    }
  }
  return graph;
}

/** One cycle through `start`, if there is one: the path of folders back to it. */
function cycleFrom(graph: Map<string, Map<string, string>>, start: string): string[] | undefined {
  const seen = new Set<string>();
  const walk = (folder: string, path: string[]): string[] | undefined => {
    for (const next of graph.get(folder)?.keys() ?? []) {
      if (next === start) return [...path, next];
      if (seen.has(next)) continue;
      seen.add(next);
      const found = walk(next, [...path, next]);
      if (found) return found;
    }
    return undefined;
  };
  return walk(start, [start]);
}

test('no folder of src/ imports a folder that imports it back', () => {
  const graph = folderGraph();
  const cycles = [...graph.keys()].flatMap((folder) => {
    const cycle = cycleFrom(graph, folder);
    if (!cycle) return [];
    const steps = cycle.slice(1).map((to, i) => `  ${graph.get(cycle[i]!)!.get(to)}`);
    return [`${cycle.join(' → ')}\n${steps.join('\n')}`];
  });
  assert.deepEqual(cycles, [], `folders that import each other:\n${cycles.join('\n')}`);
});
