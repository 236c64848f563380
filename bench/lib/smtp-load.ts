// Load generators: Postfix's smtp-source for raw throughput (one message per connection, as MX
// traffic arrives), and a paced client of our own that measures each message's accept latency:
// from the end of DATA to the 250 reply (the durable commit).
import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { promisify } from 'node:util';
import { childrenCpuSeconds } from './timed-command.ts';

const run = promisify(execFile);

export async function smtpSource(options: {
  port: number;
  messages: number;
  sessions: number;
  size: number;
  to: string;
}): Promise<{ seconds: number; cpuSeconds: number }> {
  const started = performance.now();
  const cpuBefore = childrenCpuSeconds();
  await run(
    '/usr/sbin/smtp-source',
    [
      '-s',
      String(options.sessions),
      '-m',
      String(options.messages),
      '-l',
      String(options.size),
      '-f',
      'load@sender.example',
      '-t',
      options.to,
      '-M',
      'load.sender.example',
      `127.0.0.1:${options.port}`,
    ],
    { maxBuffer: 64 * 1024 * 1024 },
  );
  // smtp-source's own CPU: on a machine of two cores the load generator takes its share of them.
  return { seconds: (performance.now() - started) / 1000, cpuSeconds: childrenCpuSeconds() - cpuBefore };
}

/**
 * Sends one message on a new connection (EHLO, MAIL, RCPT, DATA); resolves with when its body was
 * sent and when the 250 for it came (performance.now()).
 */
export function sendOneMessage(
  port: number,
  to: string,
  body: string,
  from = 'load@sender.example',
): Promise<{ sentAt: number; acceptedAt: number }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    const steps = [`EHLO ${from.split('@')[1]}`, `MAIL FROM:<${from}>`, `RCPT TO:<${to}>`, 'DATA'];
    let buffer = '';
    let sentAt = 0;
    socket.setEncoding('utf8');
    socket.on('error', reject);
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      const lines = buffer.split('\r\n');
      buffer = lines.pop()!;
      for (const line of lines) {
        if (!/^\d{3} /.test(line)) continue;
        const code = Number(line.slice(0, 3));
        if (code >= 400) return reject(new Error(line));
        if (sentAt) {
          const acceptedAt = performance.now();
          socket.end('QUIT\r\n');
          return resolve({ sentAt, acceptedAt });
        }
        const next = steps.shift();
        if (next) socket.write(`${next}\r\n`);
        else {
          sentAt = performance.now();
          socket.write(`${body}\r\n.\r\n`);
        }
      }
    });
  });
}

export async function pacedLatency(options: { port: number; rate: number; seconds: number; size: number; to: string }) {
  const body = `From: load@sender.example\r\nTo: ${options.to}\r\nSubject: latency probe\r\n\r\n${'x'.repeat(76)}\r\n`
    .repeat(1)
    .concat(`${'y'.repeat(78)}\r\n`.repeat(Math.ceil(options.size / 80)));
  const latencies: number[] = [];
  const total = Math.round(options.rate * options.seconds);
  const started = performance.now();
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / options.rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    inFlight.push(
      sendOneMessage(options.port, options.to, body).then(
        ({ sentAt, acceptedAt }) => void latencies.push(acceptedAt - sentAt),
      ),
    );
  }
  await Promise.all(inFlight);
  latencies.sort((a, b) => a - b);
  const pick = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!;
  return { count: latencies.length, p50: pick(0.5), p99: pick(0.99), max: latencies.at(-1)! };
}

export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<number> {
  const started = performance.now();
  while (!(await check())) {
    if (performance.now() - started > timeoutMs) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
  return performance.now();
}
