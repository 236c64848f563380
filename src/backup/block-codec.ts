// How a pack's blocks are compressed. Packs written now hold Zstandard frames (level 3): a restore
// of 1.1 GB of mail spent most of its decoding workers' time in gzip's inflate, which zstd does
// about 3.5 times as fast, and compressing costs about a third of gzip's level 3, for smaller output.
// Packs of format-2 backups hold gzip members; a block says which it is by its first bytes (each
// format's magic number), so both are read.
//
// A block is decompressed into exactly the bytes its pack's index says it holds: a damaged or
// hostile block that would grow beyond that is refused. Before any memory is taken for it, the
// index's size is checked against what the block can hold: a zstd frame states its size (a frame
// of a streamed content does not), and deflate expands at most 1,032 times. Frames carry zstd's
// checksum, so damage is found as the block is decompressed, before a content's SHA-256 is checked.
import { constants as bufferConstants } from 'node:buffer';
import { createRequire } from 'node:module';
import type { Transform } from 'node:stream';
import { promisify } from 'node:util';
import { gunzip, gunzipSync, type ZlibOptions } from 'node:zlib';
import zstd from 'zstd-napi';
import zstdBinding from 'zstd-napi/binding.js';
import { invalid } from '../errors.ts';

/** zstd's default level; level 1 saves a third of the compressing time for 5 % more bytes. */
const compressionLevel = 3;

/** The module a pack-reading worker loads for zstd (it runs plain JavaScript, pack-decoder.ts). */
export const zstdBindingPath = createRequire(import.meta.url).resolve('zstd-napi/binding.js');

const gunzipAsync = promisify(gunzip);
const decompressor = new zstdBinding.DCtx();

/** gzip blocks up to this many compressed bytes are inflated at once on the caller's thread (about a millisecond). */
const inlineInflateBytes = 256 * 1024;

/** A block's bytes compressed as one zstd frame. */
export function compressBlock(data: Buffer): Buffer {
  return zstd.compress(data, { compressionLevel, checksumFlag: true });
}

/** A stream compressing one large content into one zstd frame. */
export function compressingStream(): Transform {
  return new zstd.CompressStream({ compressionLevel, checksumFlag: true });
}

const isZstdFrame = (block: Buffer) => block.length >= 4 && block.readUInt32LE(0) === zstdBinding.MAGICNUMBER;

/** gzip's options for a block of `size` bytes: one output chunk, and no more than that. */
const inflateOptions = (size: number): ZlibOptions => ({
  chunkSize: Math.max(64, size),
  maxOutputLength: Math.max(1, size),
});

/**
 * A block's `size` uncompressed bytes. Fails with code 'backup-pack-damaged' when it does not
 * decompress to exactly that many. A large gzip block is inflated in the thread pool.
 */
export async function decompressBlock(block: Buffer, size: number): Promise<Buffer> {
  if (isZstdFrame(block) || block.length <= inlineInflateBytes) return decompressBlockSync(block, size);
  try {
    checkPlausible(block, size);
    return checkedSize(await gunzipAsync(block, inflateOptions(size)), size);
  } catch (error) {
    throw blockFailure(error);
  }
}

/** As decompressBlock, on this thread. */
function decompressBlockSync(block: Buffer, size: number): Buffer {
  try {
    checkPlausible(block, size);
    if (!isZstdFrame(block)) return checkedSize(gunzipSync(block, inflateOptions(size)), size);
    const out = Buffer.allocUnsafe(size);
    return checkedSize(out.subarray(0, decompressor.decompress(out, block)), size);
  } catch (error) {
    throw blockFailure(error);
  }
}

/** Deflate's largest expansion (RFC 1951 blocks of 258-byte matches), with room for gzip's header. */
export const maxInflateRatio = 1032;

/** Refuses, before anything is allocated, an index size the block cannot hold. */
function checkPlausible(block: Buffer, size: number) {
  const damaged = (why: string) =>
    invalid('backup-pack-damaged', `its index says its block holds ${size} bytes, ${why}`);
  if (size > bufferConstants.MAX_LENGTH) throw damaged('more than a block can');
  if (isZstdFrame(block)) {
    const stated = zstdBinding.getFrameContentSize(block);
    if (stated !== null && stated !== size) throw damaged(`but the block says ${stated}`);
  } else if (size > block.length * maxInflateRatio + 1024)
    throw damaged(`more than its ${block.length} compressed bytes can hold`);
}

function checkedSize(data: Buffer, size: number): Buffer {
  if (data.length !== size)
    throw invalid(
      'backup-pack-damaged',
      `its block decompresses to ${data.length} bytes, not the ${size} its index says`,
    );
  return data;
}

/** What went wrong with a block, worded for "content … is damaged: …". */
function blockFailure(error: unknown): Error {
  const { code, message } = error as { code?: string; message: string };
  if (code === 'backup-pack-damaged') return error as Error;
  const tooLarge = code === 'ERR_BUFFER_TOO_LARGE' || /destination buffer is too small/i.test(message);
  return invalid(
    'backup-pack-damaged',
    tooLarge
      ? 'its block decompresses to more bytes than its index says'
      : `its block cannot be decompressed (${message})`,
  );
}
