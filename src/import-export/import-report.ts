// What an import did, folder by folder: found, copied, skipped (already there), failed (with the
// reason for each, the first few hundred kept in full). The CLI prints it as the summary and
// renders progress from the same counts.
export interface FolderReport {
  /** The folder (or file) in the source. */
  source: string;
  /** The folder it went into; undefined when the whole folder was passed over. */
  target: string | undefined;
  found: number;
  copied: number;
  skipped: number;
  failed: number;
  /** Why a folder was passed over, or what else to know about it. */
  note?: string;
}

export interface ImportFailure {
  folder: string;
  /** Which message: a source UID, a file name, a position in an mbox. */
  message: string;
  reason: string;
}

export interface ImportProgress {
  folder: string;
  /** Messages of the folder handled so far, and how many it has (when known before the end). */
  done: number;
  total: number | undefined;
  copied: number;
  skipped: number;
  failed: number;
}

export type ProgressListener = (progress: ImportProgress) => void;

/** Failures kept with their details; beyond, only counted (a mailbox over quota fails every message). */
const keptFailures = 200;

export class ImportReport {
  readonly folders: FolderReport[] = [];
  readonly failures: ImportFailure[] = [];
  bytesCopied = 0;
  /** Set when the run stopped before the end (interrupted, or the source went away). */
  stoppedBy: string | undefined;

  constructor(private readonly onProgress: ProgressListener = () => {}) {}

  folder(source: string, target: string | undefined, note?: string): FolderReport {
    const report: FolderReport = { source, target, found: 0, copied: 0, skipped: 0, failed: 0, note };
    this.folders.push(report);
    return report;
  }

  copied(folder: FolderReport, bytes: number) {
    folder.copied++;
    this.bytesCopied += bytes;
  }

  failed(folder: FolderReport, message: string, reason: string) {
    folder.failed++;
    if (this.failures.length < keptFailures) this.failures.push({ folder: folder.source, message, reason });
  }

  progress(folder: FolderReport, total: number | undefined) {
    this.onProgress({
      folder: folder.source,
      done: folder.copied + folder.skipped + folder.failed,
      total,
      copied: folder.copied,
      skipped: folder.skipped,
      failed: folder.failed,
    });
  }

  get totals() {
    const sum = (key: 'found' | 'copied' | 'skipped' | 'failed') => this.folders.reduce((n, f) => n + f[key], 0);
    return {
      folders: this.folders.filter((f) => f.target !== undefined).length,
      found: sum('found'),
      copied: sum('copied'),
      skipped: sum('skipped'),
      failed: sum('failed'),
      bytesCopied: this.bytesCopied,
    };
  }

  toJSON() {
    return {
      ...this.totals,
      complete: this.stoppedBy === undefined,
      stoppedBy: this.stoppedBy,
      folderReports: this.folders,
      failures: this.failures,
    };
  }
}
