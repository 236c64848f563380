// One message from a file source (an mbox, a Maildir file) into its folder. Unlike IMAP, whose
// listing names each message before it is fetched, a file's message is known only once read: it is
// taken in first (streamed, see message-content.ts), then keyed and appended unless already there.
import type { Folder } from '../mailbox/folders.ts';
import { headerValue, parseHeaderSection } from '../message/headers.ts';
import { baseImportKey, type KeyCounter, messageIdOf } from './import-key.ts';
import type { FolderReport, ImportReport } from './import-report.ts';
import type { MailTarget } from './mail-target.ts';
import { receiveContent } from './message-content.ts';
import type { BlobStore } from '../store/blobs/blob-store.ts';
import { failureReason } from './failure-reason.ts';

export interface FileMessage {
  /** How the summary names the message (a file name, "message 12"). */
  label: string;
  content: AsyncIterable<Uint8Array>;
  /** Read after the content (an mbox's flags are in its header). */
  flags: () => string[];
  /** The time it arrived, if the source says; otherwise its Date field, otherwise `fallbackDate`. */
  date: number | undefined;
  fallbackDate: number;
}

export interface FileImportContext {
  target: MailTarget;
  blobs: BlobStore;
  report: ImportReport;
  folder: Folder;
  folderReport: FolderReport;
  counter: KeyCounter;
}

export async function importFileMessage(context: FileImportContext, message: FileMessage): Promise<void> {
  const { target, report, folder, folderReport } = context;
  folderReport.found++;
  try {
    const content = await receiveContent(context.blobs, message.content);
    const internalDate = message.date ?? dateField(content.header) ?? message.fallbackDate;
    const key = context.counter.next(
      baseImportKey({
        messageId: messageIdOf(content.header),
        header: content.header,
        internalDate,
        size: content.size,
      }),
    );
    if ((await target.existingKeys(folder, [key])).size) folderReport.skipped++;
    else if (await target.append(folder, content, { flags: message.flags(), internalDate, key }))
      report.copied(folderReport, content.size);
    else folderReport.skipped++;
  } catch (error) {
    report.failed(folderReport, message.label, failureReason(error));
  }
  report.progress(folderReport, undefined);
}

function dateField(header: Buffer): number | undefined {
  const value = headerValue(parseHeaderSection(header.toString('latin1')), 'date');
  const time = value ? Date.parse(value) : Number.NaN;
  return Number.isFinite(time) ? time : undefined;
}
