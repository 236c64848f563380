// The SMTP command grammar: one command line (without its CRLF) to a typed command, or to the
// reply that refuses its syntax. Pure: no I/O and no session state, so it is tested and fuzzed
// alone (test/smtp/command-line-fuzz.test.ts). What a command means in a session is smtp-session.ts's.
//
// Addresses and parameters follow RFC 5321 §4.1.2 and §4.1.1.11, with the extensions' parameters:
// SIZE (RFC 1870), BODY (RFC 6152), SMTPUTF8 (RFC 6531), RET/ENVID/NOTIFY/ORCPT (DSN, RFC 3461),
// AUTH= (RFC 4954 §5, sent by relays that authenticated). Address syntax is permissive where real
// senders are sloppy (any local part without edge or double dots) and strict where a value could
// do harm (control characters, which would reach replies, logs and Received lines).
import { domainToUnicode } from 'node:url';
import { reply, type Reply } from './smtp-reply.ts';

export interface MailParams {
  size?: number;
  body?: '7BIT' | '8BITMIME';
  smtpUtf8: boolean;
  ret?: 'FULL' | 'HDRS';
  envid?: string;
}

export interface RcptParams {
  notify?: string[];
  orcpt?: string;
}

export type SmtpCommand =
  | { verb: 'EHLO' | 'HELO'; domain: string }
  | { verb: 'MAIL'; address: string; params: MailParams }
  | { verb: 'RCPT'; address: string; params: RcptParams }
  | { verb: 'BDAT'; size: number; last: boolean }
  | { verb: 'AUTH'; mechanism: string; initial?: string }
  | { verb: 'DATA' | 'RSET' | 'NOOP' | 'QUIT' | 'HELP' | 'STARTTLS' | 'VRFY' }
  /** A request for a web page: a browser made to talk to the SMTP port (cross-protocol attack). */
  | { verb: 'HTTP' }
  | { verb: 'UNKNOWN'; name: string };

export type Verb = SmtpCommand['verb'];

/** A command whose verb is known but whose arguments are not valid. */
export interface SyntaxError {
  verb: Verb;
  refusal: Reply;
}

/** RFC 5321 §4.5.3.1.4 allows 512 octets; AUTH lines (RFC 4954 §4) and DSN parameters need more. */
export const maxCommandLength = 16 * 1024;

const controlCharacters = /[\x00-\x1f\x7f-\x9f]/;
/** Control characters and invisible formatting characters have no place in an address. */
const unsafeInAddress = /[\x00-\x1f\x7f-\x9f\u200b\u2060\ufeff]/;
const httpRequest = /^(OPTIONS|GET|HEAD|POST|PUT|DELETE|TRACE|CONNECT) \/.* HTTP\/\d\.\d$/i;
const bdatSyntax = /^BDAT +(\d{1,15})( +LAST)? *$/i;
const base64Argument = /^[A-Za-z0-9+/]*={0,2}$/;
const simpleVerbs = new Set(['DATA', 'RSET', 'NOOP', 'QUIT', 'HELP', 'STARTTLS', 'VRFY']);

const syntaxError = (verb: Verb, code: number, enhanced: string | undefined, text: string): SyntaxError => ({
  verb,
  refusal: reply(code, enhanced, text),
});

export function parseCommand(line: string): SmtpCommand | SyntaxError {
  if (httpRequest.test(line)) return { verb: 'HTTP' };
  const words = line.trim().split(/\s+/);
  const name = words[0]!.toUpperCase();
  switch (name) {
    case 'EHLO':
    case 'HELO':
      return parseHelo(name, words);
    case 'MAIL':
      return parseMail(line);
    case 'RCPT':
      return parseRcpt(line);
    case 'BDAT': {
      const match = bdatSyntax.exec(line.trim());
      // Without a size there is no telling where the chunk ends and the next command begins.
      if (!match)
        return syntaxError(
          'BDAT',
          501,
          '5.5.4',
          'Syntax: BDAT <size> [LAST]; closing the connection, the chunk cannot be skipped',
        );
      return { verb: 'BDAT', size: Number(match[1]), last: Boolean(match[2]) };
    }
    case 'AUTH':
      return parseAuth(words);
    case 'STARTTLS':
      return words.length > 1 ? syntaxError('STARTTLS', 501, '5.5.4', 'Error: syntax: STARTTLS') : { verb: 'STARTTLS' };
    case 'VRFY':
      return words.length < 2 ? syntaxError('VRFY', 501, '5.5.4', 'Error: Syntax: VRFY address') : { verb: 'VRFY' };
    default:
      if (simpleVerbs.has(name)) return { verb: name as 'DATA' };
      return { verb: 'UNKNOWN', name: name.slice(0, 32) };
  }
}

/** HELO/EHLO take exactly one argument; replies to them carry no enhanced code (RFC 2034 §3). */
function parseHelo(verb: 'EHLO' | 'HELO', words: string[]): SmtpCommand | SyntaxError {
  if (words.length !== 2)
    return syntaxError(
      verb,
      501,
      undefined,
      verb === 'EHLO' ? 'Error: syntax: EHLO hostname' : 'Error: Syntax: HELO hostname',
    );
  const domain = words[1]!;
  // A domain is at most 255 octets (RFC 5321 §4.5.3.1.2); the name ends up in Received lines and logs.
  if (domain.length > 300 || controlCharacters.test(domain))
    return syntaxError(verb, 501, undefined, 'Error: Bad hostname syntax');
  return { verb, domain };
}

function parseAuth(words: string[]): SmtpCommand | SyntaxError {
  const mechanism = (words[1] ?? '').toUpperCase();
  if (words.length > 3) return syntaxError('AUTH', 501, '5.5.4', `Error: syntax: AUTH ${mechanism} token`);
  return { verb: 'AUTH', mechanism, initial: words[2] };
}

/** Path and parameters of MAIL FROM / RCPT TO, before what each parameter means is checked. */
interface PathCommand {
  address: string;
  params: Map<string, string | true>;
}

/**
 * `<name>:<path> [KEY[=value]]...`, with the path in angle brackets. Parameter values are xtext
 * (RFC 3461 §4) and are decoded here; a value that decodes to a control character is refused.
 */
function parsePath(
  line: string,
  name: 'MAIL FROM' | 'RCPT TO',
): PathCommand | 'syntax' | { duplicate: string } | { valueless: string } {
  const colon = line.indexOf(':');
  if (colon < 0 || line.slice(0, colon).trim().toUpperCase() !== name) return 'syntax';
  const [path = '', ...words] = line
    .slice(colon + 1)
    .trim()
    .split(/\s+/);
  if (!/^<[^<>]*>$/.test(path)) return 'syntax';
  // A source route ("<@relay.example:user@example.com>") is accepted and ignored (RFC 5321 §4.1.2, appendix C).
  let address = path.slice(1, -1).replace(/^@[^\s,:@]+(?:,@[^\s,:@]+)*:/, '');
  const params = new Map<string, string | true>();
  for (const word of words) {
    const equals = word.indexOf('=');
    const key = (equals < 0 ? word : word.slice(0, equals)).toUpperCase();
    if (!key) continue;
    if (params.has(key)) return { duplicate: key };
    if (equals < 0) {
      params.set(key, true);
      continue;
    }
    const value = decodeXtext(word.slice(equals + 1));
    if (!value) return { valueless: key };
    if (controlCharacters.test(value)) return 'syntax';
    params.set(key, value);
  }
  if (unsafeInAddress.test(address)) return 'syntax';
  if (address && !(name === 'RCPT TO' && address.toLowerCase() === 'postmaster')) {
    const checked = checkAddress(address);
    if (checked === undefined) return 'syntax';
    address = checked;
  }
  return { address, params };
}

/** An address's syntax, permissively; its domain in Unicode if it came in punycode. Undefined if invalid. */
function checkAddress(address: string): string | undefined {
  const parts = address.split('@');
  if (parts.length !== 2) return undefined;
  const [local, domain] = parts as [string, string];
  // RFC 5321 §4.5.3.1.3: a path is at most 256 octets with its angle brackets.
  if (!local || !domain || local.length + 1 + domain.length > 253) return undefined;
  if (local.startsWith('.') || local.endsWith('.') || local.includes('..')) return undefined;
  if (domain.startsWith('[') && domain.endsWith(']'))
    return isAddressLiteral(domain.slice(1, -1)) ? address : undefined;
  if (/^[.-]|[.-]$|\.\.|\.-|-\./.test(domain) || !/^[a-zA-Z0-9\u0080-\uffff.-]+$/.test(domain)) return undefined;
  if (!/(^|\.)xn--/i.test(domain)) return address;
  const unicode = domainToUnicode(domain);
  return unicode ? `${local}@${unicode}` : undefined;
}

function isAddressLiteral(literal: string): boolean {
  if (/^IPv6:/i.test(literal)) return /^[0-9a-f:.]+$/i.test(literal.slice(5)) && literal.includes(':', 5);
  return (
    /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.test(literal) && literal.split('.').every((n) => Number(n) <= 255)
  );
}

function decodeXtext(value: string): string {
  return value.replace(/\+([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

function pathError(verb: 'MAIL' | 'RCPT', parsed: Exclude<ReturnType<typeof parsePath>, PathCommand>): SyntaxError {
  if (parsed === 'syntax')
    return verb === 'MAIL'
      ? syntaxError(verb, 501, '5.1.7', 'Error: Bad sender address syntax')
      : syntaxError(verb, 501, '5.1.3', 'Error: Bad recipient address syntax');
  if ('duplicate' in parsed) return syntaxError(verb, 501, '5.5.4', `Error: duplicate ${parsed.duplicate} parameter`);
  return syntaxError(verb, 501, '5.5.4', `Error: ${parsed.valueless} parameter requires a value`);
}

const upper = (value: string | true) => (value === true ? '' : value.toUpperCase());

/** The value, upper-cased, if it is one of `allowed`. */
function oneOf<T extends string>(value: string | true, allowed: readonly T[]): T | undefined {
  return allowed.find((v) => v === upper(value));
}

const unsupported = (verb: Verb, key: string) =>
  syntaxError(verb, 555, '5.5.4', `Error: unsupported parameter ${key.slice(0, 32)}`);

function parseMail(line: string): SmtpCommand | SyntaxError {
  const parsed = parsePath(line, 'MAIL FROM');
  if (typeof parsed === 'string' || !('params' in parsed)) return pathError('MAIL', parsed);
  const params: MailParams = { smtpUtf8: false };
  for (const [key, value] of parsed.params) {
    switch (key) {
      case 'SIZE':
        if (value === true || !/^\d{1,20}$/.test(value))
          return syntaxError('MAIL', 501, '5.5.4', 'Error: Bad message size syntax');
        params.size = Number(value);
        break;
      case 'BODY':
        params.body = oneOf(value, ['7BIT', '8BITMIME'] as const);
        if (!params.body)
          return syntaxError('MAIL', 501, '5.5.4', 'Invalid BODY parameter value. Must be 7BIT or 8BITMIME');
        break;
      case 'SMTPUTF8':
        if (value !== true)
          return syntaxError('MAIL', 501, '5.5.4', 'Invalid SMTPUTF8 parameter. This flag does not accept a value');
        params.smtpUtf8 = true;
        break;
      case 'RET':
        params.ret = oneOf(value, ['FULL', 'HDRS'] as const);
        if (!params.ret) return syntaxError('MAIL', 501, '5.5.4', 'Invalid RET parameter value. Must be FULL or HDRS');
        break;
      case 'ENVID':
        // RFC 3461 §4.4: at most 100 characters.
        if (value === true || value.length > 100)
          return syntaxError('MAIL', 501, '5.5.4', 'Error: ENVID must be 1 to 100 characters');
        params.envid = value;
        break;
      case 'AUTH':
        // RFC 4954 §5: who the previous hop authenticated; it vouches for nothing here and is ignored.
        break;
      default:
        return unsupported('MAIL', key);
    }
  }
  return { verb: 'MAIL', address: parsed.address, params };
}

const notifyValues = new Set(['NEVER', 'SUCCESS', 'FAILURE', 'DELAY']);

function parseRcpt(line: string): SmtpCommand | SyntaxError {
  const parsed = parsePath(line, 'RCPT TO');
  if (typeof parsed === 'string' || !('params' in parsed)) return pathError('RCPT', parsed);
  if (!parsed.address) return pathError('RCPT', 'syntax');
  const params: RcptParams = {};
  for (const [key, value] of parsed.params) {
    switch (key) {
      case 'NOTIFY': {
        const notify = upper(value).split(',');
        if (notify.some((v) => !notifyValues.has(v)))
          return syntaxError('RCPT', 501, '5.5.4', 'Error: NOTIFY parameter must be NEVER, SUCCESS, FAILURE, or DELAY');
        if (notify.includes('NEVER') && notify.length > 1)
          return syntaxError('RCPT', 501, '5.5.4', 'Error: NOTIFY=NEVER cannot be combined with other values');
        params.notify = notify;
        break;
      }
      case 'ORCPT':
        // RFC 3461 §4.2: addr-type ";" xtext.
        if (value === true || !/^[a-z0-9!#$%&'*+/=?^_`{|}~-]+;./i.test(value))
          return syntaxError('RCPT', 501, '5.5.4', 'Error: Bad ORCPT parameter syntax');
        params.orcpt = value;
        break;
      default:
        return unsupported('RCPT', key);
    }
  }
  return { verb: 'RCPT', address: parsed.address, params };
}

/** Whether a SASL response is valid base64 (RFC 4954 §4: otherwise 501). "=" is the empty response. */
export function decodeBase64(text: string): Buffer | undefined {
  if (text === '=') return Buffer.alloc(0);
  if (text.length % 4 !== 0 || !base64Argument.test(text)) return undefined;
  return Buffer.from(text, 'base64');
}

export function isSyntaxError(parsed: SmtpCommand | SyntaxError): parsed is SyntaxError {
  return 'refusal' in parsed;
}
