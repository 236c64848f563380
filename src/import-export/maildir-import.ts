// `holdfast import maildir`: a Maildir++ directory (Dovecot's and Courier's layout) into a mailbox.
// The top's cur/ and new/ are the INBOX; each ".Name.Sub" directory is the folder "Name/Sub" (names
// in IMAP's modified UTF-7, "." between levels). Flags come from the ":2," info of each file name
// (S seen, R replied, F flagged, T trashed, D draft, P passed); lowercase letters are keywords,
// named in the folder's dovecot-keywords file. The file's modification time is the time the
// message arrived, as Dovecot keeps it.
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { invalid, notFound } from '../errors.ts';
import { folderDelimiter } from '../mailbox/folders.ts';
import type { BlobStore } from '../store/blobs/blob-store.ts';
import { failureReason } from './failure-reason.ts';
import { importFileMessage } from './file-message-import.ts';
import { KeyCounter } from './import-key.ts';
import type { ImportReport } from './import-report.ts';
import { linePieces, withCrlf } from './line-pieces.ts';
import { specialUseOfName, type MailTarget } from './mail-target.ts';
import { decodeModifiedUtf7 } from './modified-utf7.ts';

export interface MaildirFolder {
  dir: string;
  /** "/" between levels. */
  name: string;
}

const isMaildir = async (dir: string) =>
  (await stat(join(dir, 'cur')).catch(() => undefined))?.isDirectory() ||
  (await stat(join(dir, 'new')).catch(() => undefined))?.isDirectory();

export async function findMaildirFolders(root: string): Promise<MaildirFolder[]> {
  const info = await stat(root).catch(() => undefined);
  if (!info?.isDirectory()) throw notFound('no-such-directory', `${root} is not a directory`);
  const folders: MaildirFolder[] = [];
  if (await isMaildir(root)) folders.push({ dir: root, name: 'INBOX' });
  for (const entry of await readdir(root, { withFileTypes: true })) {
    if (!entry.isDirectory() || !entry.name.startsWith('.') || entry.name === '.' || entry.name === '..') continue;
    const dir = join(root, entry.name);
    if (!(await isMaildir(dir))) continue;
    const levels = entry.name.slice(1).split('.').map(decodeModifiedUtf7);
    // Maildir++ keeps subfolders of INBOX as ".INBOX.x" on some servers.
    folders.push({ dir, name: levels.join(folderDelimiter) });
  }
  if (folders.length === 0)
    throw invalid(
      'not-maildir',
      `${root} is not a Maildir: it has no cur/ or new/ directory, nor .Folder subdirectories`,
    );
  return folders;
}

/** Flags from a file name's ":2," info; `keywords` are the folder's dovecot-keywords (letter a is 0). */
export function maildirFlags(fileName: string, keywords: string[]): string[] {
  const info = /[:!;]2,([A-Za-z]*)$/.exec(fileName)?.[1] ?? '';
  const system: Record<string, string> = {
    S: '\\Seen',
    R: '\\Answered',
    F: '\\Flagged',
    T: '\\Deleted',
    D: '\\Draft',
    P: '$Forwarded',
  };
  const flags: string[] = [];
  for (const letter of info) {
    const mapped = system[letter];
    if (mapped) flags.push(mapped);
    else if (letter >= 'a' && letter <= 'z') {
      const keyword = keywords[letter.charCodeAt(0) - 97];
      if (keyword) flags.push(keyword);
    }
  }
  return flags;
}

async function keywordsOf(dir: string): Promise<string[]> {
  const text = await readFile(join(dir, 'dovecot-keywords'), 'utf8').catch(() => '');
  const keywords: string[] = [];
  for (const line of text.split('\n')) {
    const match = /^(\d+) (\S+)$/.exec(line.trim());
    if (match) keywords[Number(match[1])] = match[2]!;
  }
  return keywords;
}

/** UIDs by file base name, from Dovecot's dovecot-uidlist ("<uid> [fields] :<base name>" lines). */
async function uidsOf(dir: string): Promise<Map<string, number>> {
  const text = await readFile(join(dir, 'dovecot-uidlist'), 'utf8').catch(() => '');
  const uids = new Map<string, number>();
  for (const line of text.split('\n').slice(1)) {
    const match = /^(\d+)\b[^:]*:(.+)$/.exec(line.trim());
    if (match) uids.set(match[2]!, Number(match[1]));
  }
  return uids;
}

async function* crlfFile(path: string): AsyncIterable<Buffer> {
  for await (const piece of linePieces(createReadStream(path, { highWaterMark: 256 * 1024 })))
    yield withCrlf(piece.bytes);
}

export async function importMaildir(
  context: { target: MailTarget; blobs: BlobStore; report: ImportReport; signal?: AbortSignal },
  folders: MaildirFolder[],
): Promise<void> {
  const { target, report } = context;
  for (const source of folders) {
    if (context.signal?.aborted) break;
    let folder: Awaited<ReturnType<MailTarget['folderFor']>>;
    try {
      folder = await target.folderFor(source.name, specialUseOfName(source.name));
    } catch (error) {
      report.folder(source.dir, undefined, failureReason(error));
      continue;
    }
    const folderReport = report.folder(source.dir, folder.name);
    const keywords = await keywordsOf(source.dir);
    const files: { path: string; name: string }[] = [];
    for (const sub of ['new', 'cur']) {
      const names = await readdir(join(source.dir, sub)).catch(() => [] as string[]);
      for (const name of names) if (!name.startsWith('.')) files.push({ path: join(source.dir, sub, name), name });
    }
    // In the source's UID order where Dovecot kept one (dovecot-uidlist), else by name: Maildir names
    // begin with the time of delivery. A re-run sees the same order.
    const base = (name: string) => name.replace(/[:!;]2,.*$/, '');
    const uids = await uidsOf(source.dir);
    const order = (name: string) => uids.get(base(name)) ?? Number.MAX_SAFE_INTEGER;
    files.sort(
      (a, b) =>
        order(a.name) - order(b.name) || (base(a.name) < base(b.name) ? -1 : base(a.name) > base(b.name) ? 1 : 0),
    );
    const counter = new KeyCounter();
    for (const file of files) {
      if (context.signal?.aborted) break;
      const info = await stat(file.path).catch(() => undefined);
      if (!info?.isFile()) continue; // delivered into cur/ or removed since the listing
      await importFileMessage(
        { ...context, folder, folderReport, counter },
        {
          label: file.name,
          content: crlfFile(file.path),
          flags: () => maildirFlags(file.name, keywords),
          date: Math.floor(info.mtimeMs),
          fallbackDate: info.mtimeMs,
        },
      );
    }
  }
  if (context.signal?.aborted) report.stoppedBy = 'interrupted';
}
