// `holdfast export`: everything of one mailbox in formats any other system reads: one mbox file per
// folder (mboxrd, From_ lines with the envelope sender and arrival time, flags in Status/X-Status/
// X-Keywords, lines ending in LF as mbox files on Unix do) and one .ics file per calendar, with a
// manifest (export.json). The export is built in a sibling directory and renamed into place once
// every file is synced, so a crash or an error never leaves something at the target that looks
// like a complete export. Messages are streamed from the blob store one at a time.
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, rmdir, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Kysely } from 'kysely';
import { exportCalendar } from '../calendar/calendar-export.ts';
import { listCalendars, listObjects } from '../calendar/calendars.ts';
import { conflict } from '../errors.ts';
import { listFolders } from '../mailbox/folders.ts';
import { listMessageStates, messagesByUid, type MessageRow } from '../mailbox/messages.ts';
import { headerAddresses, headerValue, parseHeaderSection } from '../message/headers.ts';
import { openStoredMessage, readHeaderSection } from '../message/stored-message.ts';
import type { BlobStore } from '../store/blobs/blob-store.ts';
import type { Database } from '../store/schema.ts';
import { BufferedFile } from './buffered-file.ts';
import { mboxPathOf } from './export-paths.ts';
import { isBlankLine, linePieces, withLf } from './line-pieces.ts';
import { formatFromLine, quotedFromLine, stateFieldLines } from './mbox-format.ts';

export interface ExportReport {
  user: string;
  directory: string;
  exportedAt: string;
  folders: { name: string; specialUse: string | null; file: string; messages: number; bytes: number }[];
  calendars: { calendar: string; name: string | null; file: string; objects: number }[];
}

/** Messages read per query while a folder is written. */
const readBatch = 200;

export async function exportAccount(
  store: { db: Kysely<Database>; blobs: BlobStore },
  owner: { id: number; address: string },
  target: string,
  now: () => number = Date.now,
): Promise<ExportReport> {
  const directory = resolve(target);
  await checkTarget(directory);
  const building = join(dirname(directory), `.${basename(directory)}.partial-${randomBytes(4).toString('hex')}`);
  await mkdir(building, { mode: 0o700 });
  try {
    const report: ExportReport = {
      user: owner.address,
      directory,
      exportedAt: new Date(now()).toISOString(),
      folders: [],
      calendars: [],
    };
    for (const folder of await listFolders(store.db, owner.id)) {
      const file = join('mail', mboxPathOf(folder.name));
      const written = await writeFolder(store, folder.id, join(building, file));
      report.folders.push({ name: folder.name, specialUse: folder.special_use, file, ...written });
    }
    for (const calendar of await listCalendars(store.db, owner.id)) {
      const rows = await listObjects(store.db, calendar.id);
      const file = join('calendars', `${calendar.uri}.ics`);
      const out = await BufferedFile.create(join(building, file));
      await out.write(exportCalendar(calendar, rows));
      await out.close();
      report.calendars.push({ calendar: calendar.uri, name: calendar.display_name, file, objects: rows.length });
    }
    const manifest = await BufferedFile.create(join(building, 'export.json'));
    await manifest.write(`${JSON.stringify(report, null, 2)}\n`);
    await manifest.close();
    await syncDirectories(building);
    // An empty directory given as the target is replaced; checkTarget refused anything else.
    await rmdir(directory).catch(() => {});
    await rename(building, directory);
    await syncDirectory(dirname(directory));
    return report;
  } catch (error) {
    await rm(building, { recursive: true, force: true });
    throw error;
  }
}

async function checkTarget(directory: string) {
  const info = await stat(directory).catch(() => undefined);
  if (!info) return;
  if (!info.isDirectory() || (await readdir(directory)).length > 0)
    throw conflict(
      'export-target-exists',
      `${directory} already exists and is not an empty directory: choose a new one`,
    );
}

async function writeFolder(
  store: { db: Kysely<Database>; blobs: BlobStore },
  folderId: number,
  path: string,
): Promise<{ messages: number; bytes: number }> {
  const out = await BufferedFile.create(path);
  let messages = 0;
  let bytes = 0;
  try {
    const uids = (await listMessageStates(store.db, folderId)).map((m) => m.uid);
    for (let at = 0; at < uids.length; at += readBatch) {
      for (const row of await messagesByUid(store.db, folderId, uids.slice(at, at + readBatch))) {
        await writeMessage(store.blobs, out, row);
        messages++;
        bytes += row.size;
      }
    }
    await out.close();
  } catch (error) {
    await out.abandon();
    throw error;
  }
  return { messages, bytes };
}

async function writeMessage(blobs: BlobStore, out: BufferedFile, row: MessageRow) {
  const header = parseHeaderSection(await readHeaderSection(blobs, row));
  await out.write(formatFromLine(envelopeSender(header), row.internalDate));
  let inHeader = true;
  let endsWithNewline = true;
  for await (const piece of linePieces(openStoredMessage(blobs, row))) {
    if (inHeader && isBlankLine(piece)) {
      // Flags go last in the header, as mutt and Dovecot write them; import takes them out again.
      await out.write(stateFieldLines(row.flags));
      inHeader = false;
    }
    let bytes = withLf(piece.bytes);
    if (
      piece.lineStart &&
      (bytes[0] === 0x3e || bytes[0] === 0x46) &&
      quotedFromLine.test(bytes.subarray(0, 80).toString('latin1'))
    )
      bytes = Buffer.concat([Buffer.from('>'), bytes]);
    await out.write(bytes);
    endsWithNewline = bytes.at(-1) === 0x0a;
  }
  await out.write(endsWithNewline ? '\n' : '\n\n');
}

/** Who the message came from on the envelope: Return-Path as delivery recorded it, else From. */
function envelopeSender(header: { name: string; value: string }[]): string {
  const returnPath = headerValue(header, 'return-path');
  // "<>": a bounce, which mbox files write as from MAILER-DAEMON.
  if (returnPath !== undefined) return returnPath.replace(/^<|>$/g, '').trim() || 'MAILER-DAEMON';
  return headerAddresses(headerValue(header, 'from'))[0] ?? 'MAILER-DAEMON';
}

async function syncDirectories(root: string) {
  for (const entry of await readdir(root, { withFileTypes: true }))
    if (entry.isDirectory()) await syncDirectories(join(root, entry.name));
  await syncDirectory(root);
}

async function syncDirectory(path: string) {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
