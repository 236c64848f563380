// The mail bench/backup backs up: a deterministic set of messages of realistic, mixed sizes, spread
// over users and a few folders each, written as Maildir++ trees (Dovecot's own layout, with its file
// names: `<time>.M<n>P<pid>.<host>,S=<size>,W=<vsize>:2,<flags>`). The same files are Dovecot's mail
// location and what `holdfast import maildir` reads, so both servers hold exactly the same mail.
//
// Sizes: 96 % text of 2–16 KB, 3.6 % with a small attachment (20–80 KB), 0.4 % with a large one
// (100 KB–2 MB), each log-uniform: about 10.7 KB a message on average, so 100,000 come to about
// 1 GB. Text is words from a small vocabulary (compresses about as well as mail does), attachments
// are base64 of random bytes (as photos, PDFs and archives are: they hardly compress). Every message
// is different (its own Message-ID and text), so no store can save space by sharing contents.
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A folder of every mailbox: its Maildir++ directory ('' is the INBOX) and its share of the mail. */
const folders = [
  { dir: '', share: 0.45 },
  { dir: '.Sent', share: 0.2 },
  { dir: '.Archive', share: 0.25 },
  { dir: '.Lists', share: 0.07 },
  { dir: '.Projects.Alpha', share: 0.03 },
] as const;

export const userName = (i: number) => `user${String(i + 1).padStart(3, '0')}`;

/** A small, fast PRNG (mulberry32): the same seed gives the same mail on every run and machine. */
function random(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const logUniform = (next: () => number, low: number, high: number) => Math.round(low * (high / low) ** next());

/**
 * Text and base64 to cut message bodies from: generated once, then each message takes a stretch at
 * its own offset (generating a gigabyte of words one by one would take longer than the backups).
 */
function corpus() {
  const next = random(7);
  const letters = 'etaoinshrdlucmfwypvbgkjqxz';
  const vocabulary = Array.from({ length: 3000 }, () => {
    const length = 2 + Math.floor(next() * 9);
    let word = '';
    for (let i = 0; i < length; i++) word += letters[Math.floor(next() ** 1.6 * letters.length)];
    return word;
  });
  const lines: string[] = [];
  let size = 0;
  while (size < 4 * 1024 * 1024) {
    const words: string[] = [];
    for (let length = 0; length < 66; ) {
      const word = vocabulary[Math.floor(next() ** 2 * vocabulary.length)]!;
      words.push(word);
      length += word.length + 1;
    }
    const line = `${words.join(' ')}\n`;
    lines.push(line);
    size += line.length;
  }
  const noise = Buffer.alloc(3 * 1024 * 1024);
  for (let i = 0; i < noise.length; i += 4) noise.writeUInt32LE(Math.floor(next() * 4294967296), i);
  const base64 = noise.toString('base64').replace(/.{76}/g, '$&\n').replace(/\n?$/, '\n');
  return { text: lines.join(''), base64 };
}

let sharedCorpus: ReturnType<typeof corpus> | undefined;

/** `length` bytes of `source` from a line start near `at`, ending in a newline. */
function stretch(source: string, at: number, length: number): string {
  let start = source.indexOf('\n', at % Math.max(1, source.length - length - 200)) + 1;
  if (start + length > source.length) start = 0;
  const end = source.lastIndexOf('\n', start + length);
  return source.slice(start, end > start ? end + 1 : start + length);
}

export interface SeedMessage {
  user: string;
  /** Maildir++ directory of the folder inside the user's Maildir ('' for the INBOX). */
  folderDir: string;
  fileName: string;
  text: string;
  /** Internal date (epoch ms): the file's modification time. */
  date: number;
}

/** Message `n` of the set (the same n gives the same message), for `users` users. */
export function seedMessage(n: number, users: number): SeedMessage {
  sharedCorpus ??= corpus();
  const next = random(n * 2654435761 + 1);
  // Some users get far more mail than others, as in any organisation.
  const user = userName(Math.floor(next() ** 1.5 * users));
  let pick = next();
  const folder = folders.find((f) => (pick -= f.share) < 0) ?? folders[0];
  const kind = next();
  const date = Date.UTC(2025, 0, 1) + Math.floor(next() * 2 * 365 * 86_400_000);
  const id = `<bench-${n}.${Math.floor(next() * 1e9).toString(36)}@bench.example>`;
  const sent = folder.dir === '.Sent';
  const peer = `${['ana', 'ben', 'chen', 'dara', 'eli', 'femi', 'gus', 'hana'][n % 8]}${n % 97}@partner.example`;
  const headers = [
    `Return-Path: <${sent ? `${user}@bench.example` : peer}>`,
    `From: ${sent ? `${user}@bench.example` : peer}`,
    `To: ${sent ? peer : `${user}@bench.example`}`,
    `Subject: ${stretch(sharedCorpus.text, Math.floor(next() * 4e6), 40)
      .split('\n')[0]!
      .slice(0, 60)} (${n})`,
    `Date: ${new Date(date).toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: ${id}`,
    'MIME-Version: 1.0',
  ];
  const textSize = logUniform(next, 2_000, 16_000);
  const body = stretch(sharedCorpus.text, Math.floor(next() * 4e6), textSize);
  let text: string;
  if (kind < 0.96) {
    text = `${headers.join('\n')}\nContent-Type: text/plain; charset=utf-8\n\n${body}`;
  } else {
    const attachment = kind < 0.996 ? logUniform(next, 20_000, 80_000) : logUniform(next, 100_000, 2_000_000);
    const boundary = `=_bench_${n}`;
    text = [
      ...headers,
      `Content-Type: multipart/mixed; boundary="${boundary}"`,
      '',
      `--${boundary}`,
      'Content-Type: text/plain; charset=utf-8',
      '',
      body,
      `--${boundary}`,
      `Content-Type: application/octet-stream; name="file-${n}.bin"`,
      'Content-Transfer-Encoding: base64',
      `Content-Disposition: attachment; filename="file-${n}.bin"`,
      '',
      stretch(sharedCorpus.base64, Math.floor(next() * 3e6), Math.min(attachment, 3_900_000)),
      `--${boundary}--`,
      '',
    ].join('\n');
  }
  const flags = sent ? 'S' : next() < 0.85 ? (next() < 0.06 ? 'FS' : next() < 0.1 ? 'RS' : 'S') : '';
  const size = Buffer.byteLength(text);
  const lines = text.split('\n').length - 1;
  const fileName = `${Math.floor(date / 1000)}.M${n}P1.bench,S=${size},W=${size + lines}:2,${flags}`;
  return { user, folderDir: folder.dir, fileName, text, date };
}

export interface WrittenMail {
  messages: number;
  bytes: number;
  /** Users that got at least one of these messages. */
  users: Set<string>;
}

/**
 * Writes messages [first, first + count) into Maildir++ trees under `root` (one per user, in cur/:
 * mail a client has seen), each file dated by its internal date.
 */
export function writeMail(root: string, users: number, first: number, count: number): WrittenMail {
  const made = new Set<string>();
  const written: WrittenMail = { messages: 0, bytes: 0, users: new Set() };
  for (let n = first; n < first + count; n++) {
    const message = seedMessage(n, users);
    const dir = join(root, message.user, message.folderDir);
    if (!made.has(dir)) {
      for (const sub of ['cur', 'new', 'tmp']) mkdirSync(join(dir, sub), { recursive: true });
      made.add(dir);
    }
    const path = join(dir, 'cur', message.fileName);
    writeFileSync(path, message.text);
    const seconds = message.date / 1000;
    utimesSync(path, seconds, seconds);
    written.messages++;
    written.bytes += Buffer.byteLength(message.text);
    written.users.add(message.user);
  }
  return written;
}
