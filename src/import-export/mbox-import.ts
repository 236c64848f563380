// `holdfast import mbox`: one mbox file into one folder, or a directory of them into a folder
// each. A directory is read as the programs that write mbox trees lay them out: readpst -r
// ("Inbox/mbox"), Holdfast's export and Apple Mail ("Inbox.mbox", "Inbox.mbox/mbox"), Thunderbird
// ("Inbox" beside "Inbox.sbd/"); a file's folder is its path with those endings taken off.
import { createReadStream } from 'node:fs';
import { open, readdir, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { invalid, notFound } from '../errors.ts';
import { folderDelimiter } from '../mailbox/folders.ts';
import { decodeFileLevel } from './export-paths.ts';
import { importFileMessage } from './file-message-import.ts';
import { KeyCounter } from './import-key.ts';
import type { ImportReport } from './import-report.ts';
import { specialUseOfName, type MailTarget } from './mail-target.ts';
import { readMbox } from './mbox-reader.ts';
import type { BlobStore } from '../store/blobs/blob-store.ts';
import { failureReason } from './failure-reason.ts';

const readpstOthers = ['calendar', 'contacts', 'journal'];

export interface MboxFile {
  path: string;
  /** The folder it goes into ("/" between levels). */
  folder: string;
}

/** The mbox files at `path` and their folders: `folder` (default INBOX) for a file; below it for a directory. */
export async function findMboxFiles(path: string, folder: string | undefined): Promise<MboxFile[]> {
  const info = await stat(path).catch(() => undefined);
  if (!info) throw notFound('no-such-file', `${path} does not exist`);
  if (info.isFile()) return [{ path, folder: folder ?? 'INBOX' }];
  if (!info.isDirectory()) throw invalid('not-mbox', `${path} is neither a file nor a directory`);
  const found: MboxFile[] = [];
  for (const file of await filesBelow(path)) {
    const levels = relative(path, file).split(sep);
    const last = levels.at(-1)!;
    const named = last === 'mbox' || last.endsWith('.mbox');
    // readpst -r writes a folder's appointments, contacts and journal beside its mbox: not mail.
    if (!named && (last.includes('.') || readpstOthers.includes(last) || !(await startsLikeMbox(file)))) continue;
    if (last === 'mbox') levels.pop();
    const names = levels.map((level) => decodeFileLevel(level.replace(/\.(mbox|sbd)$/, '')));
    const inside = names.join(folderDelimiter);
    const target = folder ? (inside ? `${folder}${folderDelimiter}${inside}` : folder) : inside || 'INBOX';
    found.push({ path: file, folder: target });
  }
  if (found.length === 0) throw invalid('not-mbox', `no mbox files found in ${path}`);
  return found.sort((a, b) => (a.folder < b.folder ? -1 : a.folder > b.folder ? 1 : 0));
}

async function filesBelow(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesBelow(path)));
    else if (entry.isFile()) out.push(path);
  }
  return out;
}

async function startsLikeMbox(path: string): Promise<boolean> {
  const file = await open(path, 'r');
  try {
    const { buffer, bytesRead } = await file.read(Buffer.alloc(5), 0, 5, 0);
    return buffer.subarray(0, bytesRead).toString('latin1') === 'From ';
  } finally {
    await file.close();
  }
}

export async function importMboxFiles(
  context: { target: MailTarget; blobs: BlobStore; report: ImportReport; signal?: AbortSignal },
  files: MboxFile[],
): Promise<void> {
  const { target, report } = context;
  for (const file of files) {
    if (context.signal?.aborted) break;
    const top = file.folder.split(folderDelimiter)[0]!;
    let folder: Awaited<ReturnType<MailTarget['folderFor']>>;
    try {
      folder = await target.folderFor(file.folder, file.folder === top ? specialUseOfName(top) : undefined);
    } catch (error) {
      report.folder(file.path, undefined, failureReason(error));
      continue;
    }
    const folderReport = report.folder(file.path, folder.name);
    const counter = new KeyCounter();
    const fallbackDate = (await stat(file.path)).mtimeMs;
    try {
      for await (const message of readMbox(createReadStream(file.path, { highWaterMark: 256 * 1024 }), file.path)) {
        await importFileMessage(
          { ...context, folder, folderReport, counter },
          {
            label: `message ${message.position}`,
            content: message.content,
            flags: () => message.flags,
            date: message.date,
            fallbackDate,
          },
        );
        if (context.signal?.aborted) break;
      }
    } catch (error) {
      // The file itself could not be read on (not an mbox, a read error): the next file still is.
      report.failed(folderReport, 'the file', failureReason(error));
    }
  }
  if (context.signal?.aborted) report.stoppedBy = 'interrupted';
}
