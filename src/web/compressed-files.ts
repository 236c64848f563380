// Compressed copies of the web app's built files, for browsers that accept them: brotli, else gzip.
// Each file is compressed once, on the thread pool, the first time it is asked for (never on the
// event loop: brotli at its best quality takes about a second for the app's files); until its
// copies are ready it is sent as it is.
import { promisify } from 'node:util';
import { brotliCompress, constants, gzip } from 'node:zlib';

const brotli = promisify(brotliCompress);
const gzipped = promisify(gzip);

export type ContentEncoding = 'br' | 'gzip';

/** Below this, compression saves less than a round trip's worth. */
const minimumBytes = 1024;
const compressibleTypes = /^(text\/|application\/json|image\/svg\+xml)/;

export const isCompressible = (type: string, bytes: number) => bytes >= minimumBytes && compressibleTypes.test(type);

/** The encoding to answer with, from an Accept-Encoding header: br, then gzip, never one given q=0. */
export function preferredEncoding(header: string | undefined): ContentEncoding | undefined {
  if (!header) return undefined;
  const accepted = new Set<string>();
  for (const part of header.split(',')) {
    const [name, ...parameters] = part.trim().toLowerCase().split(';');
    const q = parameters.map((p) => p.trim()).find((p) => p.startsWith('q='));
    if (name && !(q && Number(q.slice(2)) === 0)) accepted.add(name);
  }
  if (accepted.has('br')) return 'br';
  if (accepted.has('gzip') || accepted.has('*')) return 'gzip';
  return undefined;
}

/** One file's compressed copies, made on first use. */
export class CompressedCopies {
  private copies?: Partial<Record<ContentEncoding, Buffer>>;
  private making?: Promise<void>;

  constructor(private readonly body: Buffer) {}

  /** The copy in this encoding when it is ready; otherwise undefined, and it is being made. */
  get(encoding: ContentEncoding): Buffer | undefined {
    if (this.copies) return this.copies[encoding];
    this.making ??= Promise.all([
      brotli(this.body, {
        params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: this.body.length },
      }),
      gzipped(this.body, { level: 9 }),
    ]).then(
      ([br, gz]) => {
        this.copies = { br, gzip: gz };
      },
      () => {
        this.copies = {}; // not compressible after all: sent as it is
      },
    );
    return undefined;
  }

  /** Resolves once the copies are made (tests, and a warm-up). */
  async ready(): Promise<void> {
    this.get('br');
    await this.making;
  }
}
