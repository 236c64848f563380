// Where the Holdfast installation is: the directory of its package.json. Found by walking up from
// this module, so the same code finds it from src/ (run with tsx), from dist/ (compiled) and from
// dist/program/ (bundled), whatever their depth.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'holdfast')
      return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json of Holdfast above ${from}`);
  }
}

export const installationRoot = findRoot(dirname(fileURLToPath(import.meta.url)));

/** A path inside the installation, from its parts below the root. */
export const inInstallation = (...parts: string[]) => join(installationRoot, ...parts);
