// Compressed NDJSON files: one JSON value per line, gzip'd, written with back pressure and synced,
// read line by line. Memory stays at a line and the compressor's window, whatever the file's size.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import type { FileEntry } from './backup-format.ts';

/** Fast over small: backups are written while the server serves, and mail compresses well at any level. */
export const gzipLevel = 3;

export interface NdjsonWriter {
  write(value: unknown): Promise<void>;
  /** Writes these values in order: one promise for many lines (an incremental backup lists 100,000 contents). */
  writeAll(values: unknown[]): Promise<void>;
  /** Ends the file, syncs it, and returns its hash and size on disk. */
  finish(): Promise<FileEntry>;
  /** Gives up: closes the file (the caller removes it). */
  abort(): Promise<void>;
}

/** Characters of lines gathered before they go to the compressor. */
const batchChars = 256 * 1024;
/** Bytes waiting for the compressor, at most, before a write waits for it. */
const bufferedChars = 4 * batchChars;

export async function createNdjsonWriter(path: string): Promise<NdjsonWriter> {
  const hash = createHash('sha256');
  let bytes = 0;
  // Large chunks: each chunk compressed is a round trip to the thread pool.
  const gzip = createGzip({ level: gzipLevel, chunkSize: batchChars });
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  // flush: the file is synced before it is closed, so a finished file is on disk.
  const out = createWriteStream(path, { flags: 'wx', flush: true });
  const done = pipeline(gzip, counter, out);
  let failure: unknown;
  done.catch((error) => (failure = error));
  let draining: Promise<void> | undefined;
  // Lines are handed to the compressor a batch at a time: one call per line cost more than the line.
  let batch = '';
  const handOn = async () => {
    // The pipeline destroys the compressor a few ticks before it reports why: a write in between
    // would wait for a drain that never comes.
    if (gzip.destroyed) throw failure ?? new Error(`${path} was closed while it was being written`);
    const text = batch;
    batch = '';
    // Writers running at once (a backup's copies) share one wait for the compressor to drain. A few
    // batches may wait in it: waiting for each to be compressed left an incremental backup's
    // listing of 100,000 contents idle for a tenth of a second.
    if (!gzip.write(text) && gzip.writableLength >= bufferedChars) {
      draining ??= drained(gzip).finally(() => (draining = undefined));
      await draining;
    } else if (draining) await draining;
  };
  const writeAll = async (values: unknown[]) => {
    if (failure) throw failure;
    for (const value of values) {
      batch += `${JSON.stringify(value)}\n`;
      if (batch.length >= batchChars) await handOn();
    }
  };
  return {
    write: (value) => writeAll([value]),
    writeAll,
    async finish() {
      if (batch) await handOn();
      gzip.end();
      await done;
      return { sha256: hash.digest('hex'), bytes };
    },
    async abort() {
      gzip.destroy();
      await done.catch(() => {});
    },
  };
}

/** Resolves when the stream takes writes again; rejects if it fails or closes first (no drain comes then). */
function drained(stream: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    const closed = () => stream.errored ?? new Error('the stream was closed before it drained');
    if (stream.destroyed) {
      reject(closed());
      return;
    }
    const done = (error?: Error) => {
      stream.off('drain', onDrain);
      stream.off('error', onError);
      stream.off('close', onClose);
      if (error) reject(error);
      else resolve();
    };
    const onDrain = () => done();
    const onError = (error: Error) => done(error);
    const onClose = () => done(closed());
    stream.once('drain', onDrain);
    stream.once('error', onError);
    stream.once('close', onClose);
  });
}

/**
 * The values of a compressed NDJSON file, one per line, in batches (the lines of each decompressed
 * chunk: a promise per batch, not per line); a damaged file fails saying what is wrong.
 */
export async function* readNdjson(path: string): AsyncIterable<unknown[]> {
  const gunzip = createGunzip({ chunkSize: batchChars });
  const source = createReadStream(path, { highWaterMark: 256 * 1024 });
  // Errors of both (a missing file, a truncated or corrupted stream) surface in the loop below.
  source.on('error', (error) => gunzip.destroy(error));
  source.pipe(gunzip);
  const decoder = new StringDecoder('utf8');
  let pending = '';
  let number = 0;
  const parse = (line: string) => {
    number++;
    try {
      return JSON.parse(line);
    } catch {
      throw new Error(`line ${number} is not JSON`);
    }
  };
  try {
    for await (const chunk of gunzip) {
      pending += decoder.write(chunk as Buffer);
      const values: unknown[] = [];
      let start = 0;
      for (let end = pending.indexOf('\n'); end >= 0; end = pending.indexOf('\n', start)) {
        const line = pending.slice(start, end);
        start = end + 1;
        if (line !== '') values.push(parse(line));
      }
      pending = pending.slice(start);
      if (values.length > 0) yield values;
    }
    pending += decoder.end();
    if (pending !== '') throw new Error(`the last line (${number + 1}) is cut off`);
  } finally {
    source.destroy();
    gunzip.destroy();
  }
}
