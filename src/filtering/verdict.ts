// What the scanners' answers mean for one message and each of its recipients (pure: no I/O).
// rspamd's action decides (https://rspamd.com/doc/configuration/metrics.html): reject → 550 5.7.1;
// soft reject and greylist → 451 4.7.1; add header and rewrite subject → the recipient's Junk
// folder; a score at or above the tenant's quarantine_score → quarantine. Malware is refused or held
// by policy. A scanner that failed is the policy's: fail_closed → 451 4.7.1; fail_open → accepted
// and marked "not scanned". Allow and block lists are read before the spam verdict counts.
import type { FilteringSettings } from '../config/schema.ts';
import type { ClamdResult } from './clamd-client.ts';
import type { RspamdResult, ScannerFailure } from './rspamd-client.ts';
import type { ListName } from './sender-lists.ts';

export interface ScanOutcome {
  spam?: RspamdResult;
  malware?: ClamdResult;
  /** Scanners that could not answer, or why the message was not sent to them. */
  notScanned: { engine: 'rspamd' | 'clamd' | 'all'; reason: string }[];
}

export interface FilterRefusal {
  code: 550 | 554 | 451;
  enhanced: string;
  text: string;
}

export type Disposition =
  | { to: 'inbox' }
  | { to: 'junk'; why: string }
  | { to: 'quarantine'; reason: 'spam' | 'malware' | 'blocked'; detail: string };

export interface ListedSender {
  list: ListName;
  owner: 'user' | 'tenant';
  entry: string;
}

const spamActions = new Set(['add header', 'rewrite subject']);
const deferActions = new Set(['soft reject', 'greylist']);

/**
 * The refusal of the whole message, if any. `allowedSomewhere`: a recipient allows the sender, so a
 * spam verdict does not refuse the message (the others' copies are held instead).
 */
export function messageRefusal(
  outcome: ScanOutcome,
  settings: FilteringSettings,
  allowedSomewhere: boolean,
): FilterRefusal | undefined {
  if (outcome.malware?.infected && settings.malware === 'reject')
    return {
      code: 554,
      enhanced: '5.7.1',
      text: `Message rejected: it contains malware (${outcome.malware.signature})`,
    };
  const failed = outcome.notScanned.find((n) => n.engine !== 'all');
  if (failed && settings.onFailure === 'fail_closed')
    return {
      code: 451,
      enhanced: '4.7.1',
      text: `Message not accepted for now: it could not be scanned (${failed.engine} is not answering); try again later`,
    };
  const spam = outcome.spam;
  if (!spam || allowedSomewhere) return undefined;
  const reason = spam.smtpMessage ? `: ${oneLine(spam.smtpMessage)}` : '';
  if (spam.action === 'reject')
    return { code: 550, enhanced: '5.7.1', text: `Message rejected as spam (score ${score(spam.score)})${reason}` };
  if (deferActions.has(spam.action))
    return {
      code: 451,
      enhanced: '4.7.1',
      text: `Message deferred by the spam filter (${spam.action})${reason}; try again later`,
    };
  return undefined;
}

/** Where one recipient's copy goes, the message not being refused. */
export function disposition(
  outcome: ScanOutcome,
  listed: ListedSender | undefined,
  quarantineScore: number | undefined,
): Disposition {
  if (outcome.malware?.infected)
    return { to: 'quarantine', reason: 'malware', detail: `malware: ${outcome.malware.signature}` };
  if (listed?.list === 'allow') return { to: 'inbox' };
  if (listed?.list === 'block')
    return listed.owner === 'user'
      ? { to: 'junk', why: `sender ${listed.entry} is on the user's block list` }
      : { to: 'quarantine', reason: 'blocked', detail: `sender ${listed.entry} is on the tenant's block list` };
  const spam = outcome.spam;
  if (!spam) return { to: 'inbox' };
  const detail = `rspamd: ${spam.action}, score ${score(spam.score)}${spam.symbols.length ? `; ${spam.symbols.slice(0, 12).join(' ')}` : ''}`;
  if (quarantineScore !== undefined && spam.score >= quarantineScore)
    return { to: 'quarantine', reason: 'spam', detail };
  // Reached for reject and soft reject only when another recipient allows the sender.
  if (spam.action === 'reject') return { to: 'quarantine', reason: 'spam', detail };
  if (spamActions.has(spam.action) || deferActions.has(spam.action)) return { to: 'junk', why: detail };
  return { to: 'inbox' };
}

/** The header line intake adds to every scanned message (what was found, or why it was not scanned). */
export function scanHeader(outcome: ScanOutcome): string {
  const parts: string[] = [];
  if (outcome.spam)
    parts.push(
      `rspamd score=${score(outcome.spam.score)} action="${outcome.spam.action}"${outcome.spam.symbols.length ? ` symbols=${outcome.spam.symbols.slice(0, 12).join(',')}` : ''}`,
    );
  if (outcome.malware)
    parts.push(outcome.malware.infected ? `clamav found ${outcome.malware.signature}` : 'clamav clean');
  for (const n of outcome.notScanned)
    parts.push(`not scanned${n.engine === 'all' ? '' : ` by ${n.engine}`}: ${oneLine(n.reason)}`);
  return foldHeader(`X-Holdfast-Scan: ${parts.join('; ')}`);
}

/** A scanner's failure as the outcome records it. */
export function failureOf(error: unknown): { engine: 'rspamd' | 'clamd'; reason: string } {
  const failure = error as ScannerFailure;
  return { engine: failure.engine ?? 'rspamd', reason: failure.message };
}

const score = (n: number) => String(Math.round(n * 100) / 100);
const oneLine = (text: string) =>
  text
    .replace(/[\r\n\t]+/g, ' ')
    .replace(/[^\x20-\x7e]/g, '?')
    .slice(0, 300);

/** Folds a long header line at spaces (RFC 5322 2.2.3) so no line passes 998 octets. */
function foldHeader(line: string): string {
  const words = line.split(' ');
  const lines: string[] = [];
  let current = '';
  for (const word of words) {
    if (current && current.length + 1 + word.length > 76) {
      lines.push(current);
      current = `\t${word}`;
    } else current = current ? `${current} ${word}` : word;
  }
  lines.push(current);
  return lines.map((l) => l.slice(0, 990)).join('\r\n');
}
