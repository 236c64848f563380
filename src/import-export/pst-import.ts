// `holdfast import pst`: an Outlook PST (or OST) file through Debian's readpst (package pst-utils),
// which Holdfast runs so that an administrator need not know its options: -r writes one directory
// per Outlook folder with its mail in an mbox file (mboxrd), -D keeps Deleted Items (readpst leaves
// them out by default), -b leaves out the RTF copy of each body that readpst would otherwise attach,
// -q keeps its progress quiet. The mbox tree is then imported as `holdfast import mbox` imports a
// directory, and removed. readpst marks read mail "Status: RO", so read state comes along.
//
// readpst makes up each message's MIME boundaries at random, so the same PST converted twice gives
// messages of other bytes and sizes, and a second run would copy everything again. Each random
// number is replaced by its order of appearance in its file, which makes the output of one PST the
// same at every run and the import repeatable like the others.
import { spawn } from 'node:child_process';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, readdir, rename, rm, stat } from 'node:fs/promises';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { invalid, notFound, unavailable } from '../errors.ts';

export const readpstMissing =
  'readpst is not installed: install pst-utils (apt-get install pst-utils on Debian and Ubuntu, dnf install libpst on Fedora)';

/** Runs readpst on `file` into a new scratch directory; calls `use` with the PST's top folder directory, then removes it all. */
export async function withReadpstTree<T>(file: string, use: (topDirectory: string) => Promise<T>): Promise<T> {
  const info = await stat(file).catch(() => undefined);
  if (!info) throw notFound('no-such-file', `${file} does not exist`);
  if (!info.isFile()) throw invalid('not-pst', `${file} is not a file`);
  const scratch = await mkdtemp(join(tmpdir(), 'holdfast-pst-'));
  try {
    await readpst(['-q', '-r', '-D', '-b', '-o', scratch, file], file);
    // readpst -r writes one directory named after the PST's store (its display name, "Outlook Data File" or "Personal Folders").
    const tops = (await readdir(scratch, { withFileTypes: true })).filter((entry) => entry.isDirectory());
    if (tops.length !== 1) throw invalid('not-pst', `readpst found no mail folders in ${file}`);
    const top = join(scratch, tops[0]!.name);
    await steadyBoundaries(top);
    return await use(top);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

function readpst(args: string[], file: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('readpst', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (data) => {
      if (stderr.length < 64 * 1024) stderr += data;
    });
    child.on('error', (error: NodeJS.ErrnoException) =>
      reject(error.code === 'ENOENT' ? unavailable('readpst-missing', readpstMissing) : error),
    );
    child.on('close', (code, signal) => {
      if (code === 0) return resolve();
      const said = stderr
        .split('\n')
        .map((line) => line.trim())
        .filter(Boolean)
        .at(-1);
      reject(
        invalid(
          'not-pst',
          `readpst could not read ${file}: ${said ?? (signal ? `it was ended by ${signal}` : `exit status ${code}`)}`,
        ),
      );
    });
  });
}

const readpstBoundary = /(boundary-LibPST-iamunique-)(-?\d+)(_-_-)/g;

/** Replaces readpst's random boundary numbers in every mbox file below `directory` by their order in the file. */
async function steadyBoundaries(directory: string): Promise<void> {
  for (const entry of await readdir(directory, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || entry.name !== 'mbox') continue;
    const path = join(entry.parentPath, entry.name);
    const numbers = new Map<string, number>();
    const output = createWriteStream(`${path}.steady`);
    const steady = (line: string) =>
      line.includes('iamunique-')
        ? line.replace(readpstBoundary, (_, head: string, n: string, tail: string) => {
            if (!numbers.has(n)) numbers.set(n, numbers.size + 1);
            return `${head}${numbers.get(n)}${tail}`;
          })
        : line;
    // Split at LF only, in latin1 so that every byte is written back as read: only the numbers change.
    let rest = '';
    for await (const chunk of createReadStream(path, { encoding: 'latin1', highWaterMark: 256 * 1024 })) {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop()!;
      if (!output.write(lines.map((line) => `${steady(line)}\n`).join(''), 'latin1')) await once(output, 'drain');
    }
    output.write(steady(rest), 'latin1');
    output.end();
    await once(output, 'finish');
    await rename(`${path}.steady`, path);
  }
}
