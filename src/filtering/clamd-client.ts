// clamd's INSTREAM command over a socket (TCP or a local socket): the message is sent in chunks,
// each with its length, and clamd answers "stream: OK" or "stream: <signature> FOUND"
// (clamd(8), "INSTREAM"). Written here rather than taken from npm: the maintained packages wrap the
// clamscan binary and files too, and this is the one command Holdfast needs, with a deadline.
import { connect, type Socket } from 'node:net';
import type { ClamdAddress } from '../config/schema.ts';
import { ScannerFailure } from './rspamd-client.ts';

/** clamd's own default for one chunk is unbounded; 64 KiB keeps writes small and steady. */
const chunkBytes = 64 * 1024;
/** An answer is one short line; more than this is not clamd. */
const maxAnswerBytes = 4096;

export type ClamdResult = { infected: false } | { infected: true; signature: string };

export class ClamdClient {
  constructor(
    private readonly address: ClamdAddress,
    private readonly timeoutMs: number,
  ) {}

  async scan(message: Buffer): Promise<ClamdResult> {
    const answer = await this.talk((socket) => {
      // Written at once (one writev): the command, each chunk with its length, the zero length.
      socket.cork();
      socket.write('zINSTREAM\0');
      for (let at = 0; at < message.length; at += chunkBytes) {
        const chunk = message.subarray(at, at + chunkBytes);
        const length = Buffer.alloc(4);
        length.writeUInt32BE(chunk.length);
        socket.write(length);
        socket.write(chunk);
      }
      socket.end(Buffer.alloc(4));
      socket.uncork();
    });
    return parseScanAnswer(answer);
  }

  async ping(): Promise<void> {
    const answer = await this.talk((socket) => socket.end('zPING\0'));
    if (answer !== 'PONG') throw new ScannerFailure('clamd', `clamd answered PING with "${answer.slice(0, 100)}"`);
  }

  private talk(send: (socket: Socket) => void): Promise<string> {
    const where = 'path' in this.address ? this.address.path : `${this.address.host}:${this.address.port}`;
    return new Promise((resolve, reject) => {
      const socket =
        'path' in this.address ? connect(this.address.path) : connect(this.address.port, this.address.host);
      const chunks: Buffer[] = [];
      let size = 0;
      const fail = (reason: string) => {
        socket.destroy();
        reject(new ScannerFailure('clamd', `clamd at ${where} ${reason}`));
      };
      const timer = setTimeout(() => fail(`gave no answer within ${this.timeoutMs} ms`), this.timeoutMs);
      socket.on('connect', () => send(socket));
      socket.on('data', (data: Buffer) => {
        size += data.length;
        if (size > maxAnswerBytes) return fail('answered with more than a status line');
        chunks.push(data);
      });
      socket.on('error', (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        fail(`could not be reached: ${error.code ?? error.message}`);
      });
      socket.on('close', () => {
        clearTimeout(timer);
        // The answer of a z-command ends with NUL.
        resolve(Buffer.concat(chunks).toString('utf8').replace(/\0+$/, '').trim());
      });
    });
  }
}

export function parseScanAnswer(answer: string): ClamdResult {
  if (/^stream: OK$/.test(answer)) return { infected: false };
  const found = /^stream: (.+) FOUND$/.exec(answer);
  if (found) return { infected: true, signature: found[1]! };
  throw new ScannerFailure('clamd', `clamd could not scan the message: ${answer.slice(0, 200) || 'no answer'}`);
}
