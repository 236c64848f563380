// Real rspamd and clamd for the filtering tests, each started by the test from a directory of its own
// on loopback ports of its own (never the system's services or their sockets): rspamd with Debian's
// configuration plus local.d/override.d files here (Bayes in Redis at 127.0.0.1:6379 under a database
// number of its own, DNS pointed at a closed loopback port so nothing leaves the machine, the GTUBE
// test patterns, a local fuzzy storage and its fuzzy_check rule as docs/filtering.md sets them up, and
// two test rules: X-Holdfast-Test-Score adds that score, X-Holdfast-Test-Action forces that action);
// clamd with one signature, EICAR's MD5 in an .hdb (no freshclam download).
// When a binary is missing or a daemon does not come up, the tests skip with the reason.
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import type { BackendName } from '../helpers/backends.ts';
import { startTestNode, type TestNode } from '../helpers/node.ts';
import type { Logger } from '../../src/logging/logger.ts';

const rspamdBinary = '/usr/bin/rspamd';
const clamdBinary = '/usr/sbin/clamd';

/** The EICAR test file (https://www.eicar.org), which every scanner reports and nothing else is. */
export const eicar = 'X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*';
export const eicarSignature = 'Eicar-Test-Signature.UNOFFICIAL';
/** rspamd's test patterns (enable_test_patterns): GTUBE rejects, its "Y" variant adds a header. */
export const gtubeReject = 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X';
export const gtubeAddHeader = 'YJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X';

export const noRspamd: string | false = existsSync(rspamdBinary)
  ? false
  : 'rspamd is not installed (apt-get install rspamd)';
export const noClamd: string | false = existsSync(clamdBinary)
  ? false
  : 'clamd is not installed (apt-get install clamav-daemon)';

export interface Daemon {
  /** The daemon's main process (a benchmark reads its CPU and its children's). */
  pid: number;
  stop(): Promise<void>;
}

export interface Rspamd extends Daemon {
  url: string;
  controllerUrl: string;
  password: string;
  /** The local fuzzy rule's flag ([filtering] fuzzy_flag). */
  fuzzyFlag: number;
  /** The Redis database its Bayes statistics are in. */
  redisDb: number;
  /** The last lines of rspamd's log that match `pattern`: what a failing test names. */
  logLines(pattern: RegExp): string;
}

export interface Clamd extends Daemon {
  address: string;
  port: number;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * A UDP port on loopback that nothing holds now, as the kernel picks one. A port free for TCP says
 * nothing of UDP: a DNS stub of another test file running at the same time may hold it, and a fuzzy
 * worker that cannot bind it leaves rspamd running without its fuzzy storage.
 */
export async function freeUdpPort(): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', resolve);
  });
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

/** Whether something is bound to 127.0.0.1:`port` over UDP (Linux /proc/net/udp). */
function udpBound(port: number): boolean {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return readFileSync('/proc/net/udp', 'utf8')
    .split('\n')
    .some((line) => line.trim().split(/\s+/)[1] === local);
}

const asRoot = process.getuid?.() === 0;

function startProcess(command: string, args: string[], dir: string): ChildProcess {
  const child = spawn(command, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  // A test or benchmark that dies before stop() (a crash, process.exit) takes its daemon with it.
  const kill = () => child.kill('SIGTERM');
  process.once('exit', kill);
  child.once('exit', () => process.off('exit', kill));
  let output = '';
  const keep = (data: Buffer) => {
    output = (output + data.toString()).slice(-4000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  (child as ChildProcess & { output: () => string }).output = () => output;
  return child;
}

const outputOf = (child: ChildProcess) => (child as ChildProcess & { output?: () => string }).output?.() ?? '';

async function stopProcess(child: ChildProcess, dir: string) {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
  rmSync(dir, { recursive: true, force: true });
}

/** Waits for `check`; a daemon that exits or does not come up fails with `details` (its output by default). */
async function waitUntil(
  check: () => Promise<boolean>,
  child: ChildProcess,
  what: string,
  timeoutMs: number,
  details = () => outputOf(child).slice(-1500),
) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`${what} exited (${child.exitCode}): ${details()}`);
    if (await check().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${what} did not come up within ${timeoutMs} ms: ${details()}`);
}

const testRules = `-- Holdfast's filtering tests: a score or an action asked for by a header of the test message.
rspamd_config:register_symbol({
  name = 'HOLDFAST_TEST_SCORE', score = 1.0, group = 'holdfast_test',
  callback = function(task)
    local h = task:get_header('X-Holdfast-Test-Score')
    if h then task:insert_result('HOLDFAST_TEST_SCORE', tonumber(h)) end
  end
})
rspamd_config:register_symbol({
  name = 'HOLDFAST_TEST_ACTION', type = 'prefilter', priority = 10,
  callback = function(task)
    local a = task:get_header('X-Holdfast-Test-Action')
    if a then task:set_pre_result(a, 'Holdfast test: ' .. a, 'holdfast_test') end
  end
})
`;

/** The flag of the local fuzzy rule's one fuzzy_map entry, LOCAL_FUZZY_DENIED. */
export const localFuzzyFlag = 1;

/**
 * rspamd's local fuzzy storage, as docs/filtering.md sets it up (only the port differs): a fuzzy
 * worker on loopback that 127.0.0.1 (the controller) may teach, its hashes in Redis (Debian's
 * worker-fuzzy.inc: backend "redis", expire 90d) beside Bayes; a fuzzy_check rule "local" that
 * checks and learns it; and the score of its symbol. Empty, it matches nothing, so it changes no
 * other test's scores.
 */
function localFuzzyFiles(fuzzyPort: number): Record<string, string> {
  return {
    'local.d/worker-fuzzy.inc': `bind_socket = "127.0.0.1:${fuzzyPort}";\ncount = 1;\nallow_update = ["127.0.0.1"];\nsync = 1s;\n`,
    // override.d, not local.d as in production: it also drops Debian's rule for rspamd.com's public
    // storage, which the offline tests cannot reach.
    'override.d/fuzzy_check.conf': `rule "local" {
  algorithm = "mumhash";
  servers = "127.0.0.1:${fuzzyPort}";
  symbol = "LOCAL_FUZZY_UNKNOWN";
  mime_types = ["*"];
  max_score = 20.0;
  read_only = false;
  skip_unknown = true;
  short_text_direct_hash = true;
  min_length = 64;
  fuzzy_map = {
    LOCAL_FUZZY_DENIED {
      max_score = 20.0;
      flag = ${localFuzzyFlag};
    }
  }
}
`,
    'local.d/fuzzy_group.conf': `symbols = {
  "LOCAL_FUZZY_DENIED" {
    weight = 12.0;
    description = "Like a message this server's users reported as spam";
  }
}
`,
  };
}

/**
 * rspamd compiles its regular expressions for Hyperscan at start (about 50 s on two cores) and keeps
 * them in this cache, named by their hash: shared by every test run, a start takes under a second.
 */
const hyperscanCache = join(tmpdir(), 'holdfast-rspamd-hyperscan');

export interface RspamdOptions {
  /** More of rspamd.local.lua. */
  lua?: string;
  /**
   * More configuration files by name under the local directory, e.g. `local.d/headers_group.conf` (a
   * benchmark rescoring what only a replay of old mail triggers).
   */
  files?: Record<string, string>;
  /** Scanner processes (`count` of the normal worker): 1 for tests, more for a benchmark's load. */
  workers?: number;
  /**
   * A DNS server for rspamd's lookups ("127.0.0.1:PORT", e.g. a test's DNS stub). Without it rspamd
   * asks a closed port and each lookup fails at its 0.1 s timeout: offline, but every scan waits.
   */
  nameserver?: string;
  /** What rspamd logs: errors (the default), or each task too, with the fuzzy storage's steps. */
  logLevel?: 'error' | 'info';
}

export async function startRspamd(options: RspamdOptions = {}): Promise<Rspamd> {
  const dir = mkdtempSync(join(tmpdir(), 'holdfast-rspamd-'));
  mkdirSync(hyperscanCache, { recursive: true });
  for (const sub of ['local.d', 'override.d', 'db', 'run', 'log']) mkdirSync(join(dir, sub));
  const logFile = join(dir, 'log', 'rspamd.log');
  const [port, controllerPort, proxyPort] = [await freePort(), await freePort(), await freePort()];
  // The fuzzy worker listens on UDP, where other tests' DNS stubs take ports of their own.
  const fuzzyPort = await freeUdpPort();
  const closedPort = await freePort();
  const password = 'holdfast-test-controller';
  // Databases 8 to 15: away from 0, which other users of the shared Redis take by default.
  const redisDb = 8 + Math.floor(Math.random() * 8);
  // Bayes starts empty: a database left full by an earlier run (a corpus benchmark learns thousands)
  // was seen to make rspamd learn nothing from the tests' moves.
  await emptyRedisDb(redisDb);
  const files: Record<string, string> = {
    'override.d/worker-normal.inc': `bind_socket = "127.0.0.1:${port}";\ncount = ${options.workers ?? 1};\nmime = true;\n`,
    'override.d/worker-controller.inc': `bind_socket = "127.0.0.1:${controllerPort}";\ncount = 1;\npassword = "${password}";\nsecure_ip = "127.0.0.2";\nstatic_dir = "\${WWWDIR}";\n`,
    'override.d/worker-proxy.inc': `bind_socket = "127.0.0.1:${proxyPort}";\ncount = -1;\n`,
    // A file a failing test quotes from (logLines).
    'override.d/logging.inc': `type = "file";\nfilename = "${logFile}";\nlevel = "${options.logLevel ?? 'error'}";\n${options.logLevel === 'info' ? 'debug_modules = ["fuzzy_storage", "fuzzy_check"];\n' : ''}`,
    'local.d/options.inc': `dns { nameserver = ["${options.nameserver ?? `127.0.0.1:${closedPort}`}"]; timeout = 0.1s; retransmits = 0; }\nenable_test_patterns = true;\nhs_cache_dir = "${hyperscanCache}";\ncontrol_socket = "${dir}/run/rspamd.sock mode=0600";\n`,
    'local.d/redis.conf': `servers = "127.0.0.1:6379";\ndb = "${redisDb}";\n`,
    'local.d/classifier-bayes.conf': `backend = "redis";\nservers = "127.0.0.1:6379";\ndb = "${redisDb}";\nmin_learns = 1;\nautolearn = false;\n`,
    ...localFuzzyFiles(fuzzyPort),
    'rspamd.local.lua': testRules + (options.lua ?? ''),
    ...options.files,
  };
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const args = [
    '-f',
    '-c',
    '/etc/rspamd/rspamd.conf',
    ...(asRoot ? ['-i', '-u', 'root', '-g', 'root'] : []),
    '--var',
    `LOCAL_CONFDIR=${dir}`,
    '--var',
    `DBDIR=${dir}/db`,
    '--var',
    `RUNDIR=${dir}/run`,
    '--var',
    `LOGDIR=${dir}/log`,
  ];
  const child = startProcess(rspamdBinary, args, dir);
  // What rspamd said before its log file was opened (configuration errors), and the end of that file.
  const details = () => `${outputOf(child).slice(-1000)}\n${logLines(logFile, /./)}`;
  const url = `http://127.0.0.1:${port}`;
  const controllerUrl = `http://127.0.0.1:${controllerPort}`;
  try {
    await waitUntil(
      async () => (await fetch(`${url}/ping`)).ok && (await fetch(`${controllerUrl}/ping`)).ok,
      child,
      'rspamd',
      // A first start compiles rspamd's expressions (~50 s on two cores; longer beside other tests).
      240_000,
      details,
    );
    // The fuzzy worker answers no ping: until it has bound its UDP port, a report sent to it is lost
    // (two CI runs saw the fuzzy test's first report never reach the storage).
    await waitUntil(async () => udpBound(fuzzyPort), child, "rspamd's fuzzy worker", 60_000, details);
  } catch (error) {
    await stopProcess(child, dir);
    throw error;
  }
  return {
    pid: child.pid!,
    url,
    controllerUrl,
    password,
    fuzzyFlag: localFuzzyFlag,
    redisDb,
    logLines: (pattern) => logLines(logFile, pattern),
    stop: () => stopProcess(child, dir),
  };
}

function logLines(file: string, pattern: RegExp): string {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return 'no log';
  }
  return text
    .split('\n')
    .filter((line) => pattern.test(line))
    .slice(-20)
    .map((line) => line.slice(0, 300))
    .join('\n');
}

export async function startClamd(): Promise<Clamd> {
  const dir = mkdtempSync(join(tmpdir(), 'holdfast-clamd-'));
  mkdirSync(join(dir, 'db'));
  const md5 = createHash('md5').update(eicar).digest('hex');
  writeFileSync(join(dir, 'db', 'holdfast-test.hdb'), `${md5}:${eicar.length}:Eicar-Test-Signature\n`);
  const port = await freePort();
  writeFileSync(
    join(dir, 'clamd.conf'),
    [
      'Foreground yes',
      `TCPSocket ${port}`,
      'TCPAddr 127.0.0.1',
      `DatabaseDirectory ${dir}/db`,
      `PidFile ${dir}/clamd.pid`,
      `TemporaryDirectory ${dir}`,
      'LogTime no',
      ...(asRoot ? ['User root'] : []),
      'ScanMail yes',
      'StreamMaxLength 30M',
      '',
    ].join('\n'),
  );
  const child = startProcess(clamdBinary, ['-c', join(dir, 'clamd.conf')], dir);
  try {
    await waitUntil(() => clamdPing(port), child, 'clamd', 60_000);
  } catch (error) {
    await stopProcess(child, dir);
    throw error;
  }
  return { pid: child.pid!, address: `127.0.0.1:${port}`, port, stop: () => stopProcess(child, dir) };
}

function clamdPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => socket.end('zPING\0'));
    let answer = '';
    socket.on('data', (d) => {
      answer += d.toString();
    });
    socket.on('error', () => resolve(false));
    socket.on('close', () => resolve(answer.startsWith('PONG')));
  });
}

/** Whether Redis answers on 127.0.0.1:6379 (rspamd's Bayes needs it; the rest of rspamd does not). */
export function redisAnswers(): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(6379, '127.0.0.1', () => socket.write('PING\r\n'));
    socket.setTimeout(2000, () => socket.destroy());
    socket.on('data', (data) => {
      resolve(data.toString().startsWith('+PONG'));
      socket.end();
    });
    socket.on('error', () => resolve(false));
    socket.on('close', () => resolve(false));
  });
}

/** Empties one Redis database (SELECT n, FLUSHDB): the scanners' own, never 0. */
function emptyRedisDb(db: number): Promise<void> {
  return new Promise((resolve) => {
    const socket = connect(6379, '127.0.0.1', () => socket.write(`SELECT ${db}\r\nFLUSHDB\r\n`));
    let answers = '';
    socket.setTimeout(5000, () => socket.destroy());
    socket.on('data', (data) => {
      answers += data.toString();
      if (answers.split('\r\n').filter(Boolean).length >= 2) socket.end();
    });
    // No Redis: the learning tests skip on their own (redisAnswers).
    socket.on('error', () => resolve());
    socket.on('close', () => resolve());
  });
}

/** A test message with an EICAR attachment, as a mail client would send it. */
export function eicarAttachment() {
  return { filename: 'eicar.com', content: Buffer.from(eicar), contentType: 'application/octet-stream' };
}

export interface Engines {
  rspamd?: Rspamd;
  clamd?: Clamd;
  /** Why tests needing both are skipped, or false. */
  skip: string | false;
  stop(): Promise<void>;
}

/** Both scanners, or the reason a test that needs them is skipped (not installed, did not start). */
/**
 * One test file at a time runs scanners (npm test runs two files at once): each empties the Redis
 * database its rspamd keeps Bayes in, which must not be another running file's. A lock directory
 * holding the owner's pid; a lock whose owner is gone is taken over.
 */
const enginesLock = join(tmpdir(), 'holdfast-scan-engines.lock');

export async function lockEngines(): Promise<() => void> {
  for (;;) {
    try {
      mkdirSync(enginesLock);
      writeFileSync(join(enginesLock, 'pid'), String(process.pid));
      return () => rmSync(enginesLock, { recursive: true, force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      let owner = 0;
      try {
        owner = Number(readFileSync(join(enginesLock, 'pid'), 'utf8'));
      } catch {
        // being written or removed: look again
      }
      if (owner && !alive(owner)) rmSync(enginesLock, { recursive: true, force: true });
      else await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function startEngines(rspamdOptions?: RspamdOptions): Promise<Engines> {
  const missing = noRspamd || noClamd;
  if (missing) return { skip: missing, stop: async () => {} };
  const unlock = await lockEngines();
  const [rspamd, clamd] = await Promise.allSettled([startRspamd(rspamdOptions), startClamd()]);
  const engines: Engines = {
    rspamd: rspamd.status === 'fulfilled' ? rspamd.value : undefined,
    clamd: clamd.status === 'fulfilled' ? clamd.value : undefined,
    skip: false,
    stop: async () => {
      try {
        await engines.rspamd?.stop();
        await engines.clamd?.stop();
      } finally {
        unlock();
      }
    },
  };
  const failed = [rspamd, clamd].find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
  if (failed) engines.skip = `the scanners did not start: ${(failed.reason as Error).message}`;
  return engines;
}

/** An SMTP client to a node's port 25, as another mail server connects (the test certificate is self-signed). */
export function mxClient(node: { port(name: string): number }) {
  return nodemailer.createTransport({
    host: '127.0.0.1',
    port: node.port('smtp'),
    secure: false,
    tls: { rejectUnauthorized: false },
  });
}

/**
 * A node for a filtering test: these [filtering] lines (TOML, after the section's header) and these
 * users, with `password`, in its default tenant.
 */
export async function startFilteringNode(
  backend: BackendName,
  filtering: string[],
  users: string[],
  password: string,
  logger?: Logger,
): Promise<TestNode> {
  const t = await startTestNode(backend, { toml: ['[filtering]', ...filtering, ''].join('\n'), logger });
  const tenant = await t.node.holdfast.directory.tenant('default');
  for (const address of users) await tenant.addPrincipal({ kind: 'user', address, password });
  return t;
}
