// Wire-level attacks on IMAP, POP3, SMTP and HTTP (issue 15): endless literals, a deflate bomb, and
// clients that pipeline commands without ever reading the answers. Each attack must leave the
// server answering another client within a second, with its memory bounded. The server runs in this
// process, so its memory is this process's memory; the attacking clients never buffer what they
// send (they wait for 'drain') nor what they are sent (they never read).
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createDeflateRaw } from 'node:zlib';
import { ImapTalk } from '../helpers/imap-talk.ts';
import { startTestNode, type TestNode } from '../helpers/node.ts';
import { Pop3Talk } from '../helpers/pop3-talk.ts';
import { SmtpTalk } from '../helpers/smtp-talk.ts';

const password = 'Wonderland-42';
const MiB = 1024 * 1024;
/** Generous: what one attack may add to the server's memory. Before the fixes each added 400 MB to GBs. */
const memoryBound = 150 * MiB;
/** Another client is answered within this while an attack runs. */
const answerWithinMs = 1000;

interface AttackResult {
  rssGrowth: number;
  heapGrowth: number;
  slowestAnswerMs: number;
  eventLoopDelayMaxMs: number;
}

/**
 * Runs `attack` while a probe asks the server something every 100 ms; returns the peak growth of
 * the memory (sampled every 20 ms) and the slowest probe answer.
 */
async function underAttack(attack: () => Promise<void>, probe: () => Promise<void>): Promise<AttackResult> {
  (globalThis as { gc?: () => void }).gc?.();
  const base = process.memoryUsage();
  let peakRss = base.rss;
  let peakHeap = base.heapUsed;
  const sampler = setInterval(() => {
    const now = process.memoryUsage();
    peakRss = Math.max(peakRss, now.rss);
    peakHeap = Math.max(peakHeap, now.heapUsed);
  }, 20);
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  let slowestAnswerMs = 0;
  let attacking = true;
  const probing = (async () => {
    while (attacking) {
      const started = performance.now();
      await Promise.race([
        probe(),
        new Promise((_, reject) => setTimeout(() => reject(new Error('probe timed out')), 5000)),
      ]);
      slowestAnswerMs = Math.max(slowestAnswerMs, performance.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  try {
    await attack();
  } finally {
    attacking = false;
    await probing;
    clearInterval(sampler);
    delay.disable();
  }
  return {
    rssGrowth: peakRss - base.rss,
    heapGrowth: peakHeap - base.heapUsed,
    slowestAnswerMs,
    eventLoopDelayMaxMs: delay.max / 1e6,
  };
}

function assertHeldUp(result: AttackResult, what: string) {
  const text = `${what}: rss +${(result.rssGrowth / MiB).toFixed(0)} MB, heap +${(result.heapGrowth / MiB).toFixed(0)} MB, slowest answer ${result.slowestAnswerMs.toFixed(0)} ms, event loop delay max ${result.eventLoopDelayMaxMs.toFixed(0)} ms`;
  console.log(`# ${text}`);
  assert.ok(result.rssGrowth < memoryBound && result.heapGrowth < memoryBound, `memory grew too much: ${text}`);
  assert.ok(result.slowestAnswerMs < answerWithinMs, `another client waited too long: ${text}`);
}

async function rawConnect(port: number): Promise<Socket> {
  const socket = connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.on('error', () => {});
  return socket;
}

/**
 * Writes what `next` gives as fast as the server takes it: up to `limit` bytes, or until the server
 * has not taken anything for `stallMs` (it stopped reading), or closes, or `deadlineMs` passes.
 */
async function flood(
  socket: {
    write(data: Buffer): boolean;
    once(event: string, listener: () => void): unknown;
    off(event: string, listener: () => void): unknown;
    destroyed: boolean;
  },
  next: () => Buffer,
  options: { limit: number; stallMs?: number; deadlineMs?: number },
) {
  const { limit, stallMs = 1000, deadlineMs = 8000 } = options;
  const deadline = Date.now() + deadlineMs;
  let written = 0;
  while (written < limit && Date.now() < deadline && !socket.destroyed) {
    const piece = next();
    written += piece.length;
    if (socket.write(piece)) {
      // An attacker is another process: it must not hold this event loop (the server's) between writes.
      await new Promise((resolve) => setImmediate(resolve));
      continue;
    }
    const outcome = await new Promise<'drain' | 'closed' | 'stalled'>((resolve) => {
      const done = (result: 'drain' | 'closed' | 'stalled') => {
        clearTimeout(timer);
        socket.off('drain', onDrain);
        socket.off('close', onClose);
        resolve(result);
      };
      const onDrain = () => done('drain');
      const onClose = () => done('closed');
      const timer = setTimeout(() => done('stalled'), stallMs);
      socket.once('drain', onDrain);
      socket.once('close', onClose);
    });
    if (outcome !== 'drain') return { written, outcome };
  }
  return { written, outcome: socket.destroyed ? 'closed' : 'limit' };
}

/** Repeats `text` into a piece of about 64 KiB. */
const repeated = (text: string) => Buffer.from(text.repeat(Math.ceil(65536 / text.length)), 'latin1');

describe('the server under wire-level attacks', () => {
  let t: TestNode;
  const imapProbe = async () => {
    const { talk, greeting } = await ImapTalk.open(t.port('imap'), { tls: false });
    assert.match(greeting, /^\* OK/);
    assert.match(await talk.command('NOOP'), /OK/);
    talk.close();
  };

  before(async () => {
    t = await startTestNode('sqlite');
    const tenant = await t.node.holdfast.directory.tenant('default');
    await tenant.addPrincipal({ kind: 'user', address: 'mallory@test.example', password });
    await (await fetch(`http://127.0.0.1:${t.port('http')}/health/live`)).text(); // fetch loads undici on first use
  });
  after(() => t?.stop());

  it('IMAP: one endless command of non-synchronizing literals before login is cut off (BAD [TOOBIG], then closed)', async () => {
    const socket = await rawConnect(t.port('imap'));
    let received = '';
    socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
    socket.write('a1 LOGIN {4096+}\r\n');
    // Each literal within LITERAL-'s 4096 bytes; together endless.
    const piece = Buffer.concat([Buffer.alloc(4096, 'x'), Buffer.from(' {4096+}\r\n')]);
    let outcome = '';
    const result = await underAttack(async () => {
      outcome = (await flood(socket, () => piece, { limit: 256 * MiB })).outcome;
    }, imapProbe);
    socket.destroy();
    assertHeldUp(result, 'IMAP literal bomb');
    assert.notEqual(outcome, 'limit', 'the server read all 256 MB of one command');
    assert.match(received, /\r\na1 BAD \[TOOBIG\]/);
  });

  it('IMAP: a COMPRESS=DEFLATE bomb is inflated only as fast as its commands run', async () => {
    // 160 MB of CAPABILITY commands deflate to less than 300 KB.
    const deflate = createDeflateRaw({ level: 9 });
    const compressed: Buffer[] = [];
    deflate.on('data', (d: Buffer) => compressed.push(d));
    const noops = Buffer.from('a CAPABILITY\r\n'.repeat(64 * 1024));
    for (let i = 0; i < 160; i++) deflate.write(noops);
    await new Promise((resolve) => deflate.end(resolve));
    const bomb = Buffer.concat(compressed);

    const { talk } = await ImapTalk.open(t.port('imaps'), { tls: true });
    await talk.login('mallory@test.example', password);
    assert.match(await talk.command('COMPRESS DEFLATE'), /OK DEFLATE active/);
    talk.stopReading();
    const result = await underAttack(async () => {
      talk.write(bomb); // small enough to send at once
      await new Promise((resolve) => setTimeout(resolve, 5000)); // the server inflates what it will meanwhile
    }, imapProbe);
    talk.close();
    assertHeldUp(result, `IMAP deflate bomb (${(bomb.length / 1024).toFixed(0)} KB inflating to 160 MB)`);
  });

  /** 8 MB of one small command, pipelined by a client that never reads a byte of the answers. */
  async function neverReading(protocol: string, command: string, probe: () => Promise<void>) {
    const socket = await rawConnect(t.port(protocol.toLowerCase()));
    socket.pause();
    const piece = repeated(command);
    const result = await underAttack(async () => {
      await flood(socket, () => piece, { limit: 8 * MiB });
    }, probe);
    socket.destroy();
    assertHeldUp(result, `${protocol} never-reading client`);
  }

  it('IMAP: a client that pipelines commands and never reads is paused, not buffered for', async () => {
    await neverReading('IMAP', 'a CAPABILITY\r\n', imapProbe);
  });

  it('POP3: a client that pipelines commands and never reads is paused, not buffered for', async () => {
    await neverReading('POP3', 'CAPA\r\n', async () => {
      const { talk, greeting } = await Pop3Talk.open(t.port('pop3'));
      assert.match(greeting, /^\+OK/);
      assert.match(await talk.send('NOOP'), /^\+OK/);
      talk.close();
    });
  });

  it('SMTP: a client that pipelines commands and never reads is paused, not buffered for (smtp-server waits for drain)', async () => {
    await neverReading('SMTP', 'NOOP\r\n', async () => {
      const { talk, greeting } = await SmtpTalk.open(t.port('smtp'));
      assert.match(greeting, /^220/);
      assert.match(await talk.send('NOOP'), /^250/);
      talk.close();
    });
  });

  it('HTTP: a client that pipelines requests and never reads is cut off, not buffered for', async () => {
    await neverReading('HTTP', 'GET /health/live HTTP/1.1\r\nHost: a\r\n\r\n', async () => {
      const response = await fetch(`http://127.0.0.1:${t.port('http')}/health/live`);
      assert.equal(response.status, 200);
      await response.text();
    });
  });
});
