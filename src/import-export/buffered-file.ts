// A file written in large sequential writes and synced before it counts: the export's mbox and
// .ics files, written into a directory that only becomes the export once everything in it is on disk.
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';

const flushAt = 256 * 1024;

export class BufferedFile {
  private parts: Buffer[] = [];
  private held = 0;

  private constructor(private readonly file: FileHandle) {}

  static async create(path: string): Promise<BufferedFile> {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    return new BufferedFile(await open(path, 'wx', 0o600));
  }

  async write(data: Buffer | string) {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    this.parts.push(bytes);
    this.held += bytes.length;
    if (this.held >= flushAt) await this.flush();
  }

  private async flush() {
    if (this.held === 0) return;
    const data = Buffer.concat(this.parts);
    this.parts = [];
    this.held = 0;
    await this.file.write(data);
  }

  /** Writes what is held, syncs the file to disk and closes it. */
  async close() {
    try {
      await this.flush();
      await this.file.sync();
    } finally {
      await this.file.close();
    }
  }

  /** Closes without caring about the content (the export failed; its directory is removed). */
  async abandon() {
    await this.file.close().catch(() => {});
  }
}
