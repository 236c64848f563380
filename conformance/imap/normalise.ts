// Turns a server's reply to one command into lines that can be compared with another server's:
// responses are parsed (so a literal and a quoted string, or FETCH items in another order, read the
// same) and what legitimately varies between two correct servers is replaced by a placeholder.
type Token = string | { text: string } | Token[];

interface Response {
  /** "*", "+" or the command's tag. */
  tag: string;
  tokens: Token[];
}

const statusWords = new Set(['OK', 'NO', 'BAD', 'BYE', 'PREAUTH']);

/** Splits a reply into responses; a status response keeps its code (as tokens) and loses its text. */
export function parseReply(reply: string): Response[] {
  const responses: Response[] = [];
  let at = 0;
  const lineEnd = () => {
    const end = reply.indexOf('\r\n', at);
    at = end < 0 ? reply.length : end + 2;
  };
  const token = (): Token => {
    const c = reply[at];
    if (c === '(') {
      at++;
      const list: Token[] = [];
      while (at < reply.length && reply[at] !== ')') {
        if (reply[at] === ' ') at++;
        else list.push(token());
      }
      at++;
      return list;
    }
    if (c === '"') {
      let text = '';
      for (at++; at < reply.length && reply[at] !== '"'; at++) text += reply[at] === '\\' ? reply[++at] : reply[at];
      at++;
      return { text };
    }
    const literal = /^~?\{(\d+)\+?\}\r\n/.exec(reply.slice(at, at + 24));
    if (literal) {
      at += literal[0].length;
      const text = reply.slice(at, at + Number(literal[1]));
      at += text.length;
      return { text };
    }
    // An atom, with any [section] in it read whole: BODY[HEADER.FIELDS (FROM)]<0>.
    const start = at;
    let depth = 0;
    while (at < reply.length) {
      const ch = reply[at];
      if (ch === '[') depth++;
      else if (ch === ']') depth--;
      else if (depth === 0 && (ch === ' ' || ch === '(' || ch === ')' || ch === '\r')) break;
      at++;
    }
    // A stray ")" (or anything else an atom cannot start with) is taken alone, so parsing moves on.
    if (at === start) at++;
    return reply.slice(start, at);
  };
  while (at < reply.length) {
    const end = reply.indexOf('\r\n', at) < 0 ? reply.length : reply.indexOf('\r\n', at);
    const space = reply.indexOf(' ', at);
    const tag = reply.slice(at, space < 0 || space > end ? end : space);
    at += tag.length + 1;
    const tokens: Token[] = [];
    if (tag === '+') {
      lineEnd();
      continue;
    }
    while (at < reply.length && !reply.startsWith('\r\n', at)) {
      if (reply[at] === ' ') {
        at++;
        continue;
      }
      tokens.push(token());
      if (tokens.length === 1 && typeof tokens[0] === 'string' && statusWords.has(tokens[0].toUpperCase())) {
        if (reply[at] === ' ') at++;
        if (reply[at] === '[') {
          const close = reply.indexOf(']', at);
          const inner = parseReply(`* ${reply.slice(at + 1, close)}\r\n`)[0]?.tokens ?? [];
          tokens.push(inner);
        }
        break;
      }
    }
    lineEnd();
    responses.push({ tag, tokens });
  }
  return responses;
}

/** Per server and fixture: UIDVALIDITY values become <uidvalidity 1>, <uidvalidity 2>… in order of appearance. */
export class Normaliser {
  private validities = new Map<string, string>();
  private command = '';

  constructor(private readonly appendedSince: number) {}

  validity(value: Token): string {
    const key = String(value);
    if (!this.validities.has(key)) this.validities.set(key, `<uidvalidity ${this.validities.size + 1}>`);
    return this.validities.get(key)!;
  }

  /** The reply as comparable lines: untagged ones sorted (their order is free), the tagged one last. */
  lines(reply: string, command: string): string[] {
    this.command = command.toUpperCase();
    const responses = parseReply(reply).map((r) => ({ tag: r.tag, text: this.response(r) }));
    const untagged = responses.filter((r) => r.tag === '*').map((r) => `* ${r.text}`);
    const tagged = responses.filter((r) => r.tag !== '*').map((r) => `${r.tag} ${r.text}`);
    return [...untagged.sort(), ...tagged];
  }

  private response({ tokens }: Response): string {
    const [first, second] = tokens;
    const word = (t: Token | undefined) => (typeof t === 'string' ? t.toUpperCase() : '');
    if (statusWords.has(word(first)))
      return [first, ...(Array.isArray(second) ? [`[${this.code(second)}]`] : [])].join(' ');
    if (word(first) === 'CAPABILITY') return 'CAPABILITY <capabilities>';
    if (word(second) === 'FETCH' && Array.isArray(tokens[2]))
      return `${first} FETCH (${this.pairs(tokens[2], this.fetchItem)})`;
    if (word(first) === 'STATUS' && Array.isArray(tokens[2]))
      return `STATUS ${serialise(tokens[1]!)} (${this.pairs(tokens[2], this.statusItem)})`;
    if (word(first) === 'FLAGS' && Array.isArray(second)) return `FLAGS ${serialise(sorted(second))}`;
    if ((word(first) === 'LIST' || word(first) === 'LSUB') && Array.isArray(second))
      return [first, serialise(sorted(this.listAttributes(second))), ...tokens.slice(2).map(serialise)].join(' ');
    return tokens.map(serialise).join(' ');
  }

  private code(tokens: Token[]): string {
    const [name, ...rest] = tokens;
    switch (typeof name === 'string' ? name.toUpperCase() : '') {
      case 'CAPABILITY':
        return 'CAPABILITY <capabilities>';
      case 'UIDVALIDITY':
      case 'APPENDUID':
      case 'COPYUID':
        return [name, this.validity(rest[0]!), ...rest.slice(1).map((set) => uidSet(String(set)))].join(' ');
      case 'HIGHESTMODSEQ':
        return `${name} <modseq>`;
      case 'PERMANENTFLAGS':
        return `${name} ${serialise(sorted(rest[0] as Token[]))}`;
      default:
        return tokens.map(serialise).join(' ');
    }
  }

  /** Key-value pairs (FETCH items, STATUS items) in a fixed order. */
  private pairs(list: Token[], value: (key: string, v: Token) => string): string {
    const pairs: string[] = [];
    for (let i = 0; i < list.length; i += 2)
      pairs.push(`${serialise(list[i]!)} ${value(String(list[i]).toUpperCase(), list[i + 1]!)}`);
    return pairs.sort().join(' ');
  }

  /**
   * Attributes a server may send unasked are compared only when the command asks for them:
   * \HasChildren / \HasNoChildren (RFC 5258 §4) and special uses (RFC 6154 §2).
   */
  private listAttributes(attributes: Token[]): Token[] {
    const children = this.command.includes('CHILDREN');
    const specialUse = this.command.includes('SPECIAL-USE');
    return attributes.filter((a) => {
      const name = String(a).toUpperCase();
      if (name === '\\HASCHILDREN' || name === '\\HASNOCHILDREN') return children;
      if (['\\ALL', '\\ARCHIVE', '\\DRAFTS', '\\FLAGGED', '\\JUNK', '\\SENT', '\\TRASH'].includes(name))
        return specialUse;
      return true;
    });
  }

  private fetchItem = (key: string, v: Token): string => {
    if (key === 'MODSEQ') return '(<modseq>)';
    if (key === 'FLAGS' && Array.isArray(v)) return serialise(sorted(v));
    // MIME types, subtypes, encodings and parameter names are case-insensitive: all is compared so.
    if (key === 'BODY' || key === 'BODYSTRUCTURE') return serialise(foldBody(v));
    // An INTERNALDATE the fixture did not set is the time of the APPEND.
    if (
      key === 'INTERNALDATE' &&
      typeof v === 'object' &&
      !Array.isArray(v) &&
      Date.parse(v.text.replace(/^ /, '').replace(/-/g, ' ')) >= this.appendedSince - 3_600_000
    )
      return '<append time>';
    return serialise(v);
  };

  private statusItem = (key: string, v: Token): string =>
    key === 'UIDVALIDITY' ? this.validity(v) : key === 'HIGHESTMODSEQ' ? '<modseq>' : serialise(v);
}

/** A string that could be an atom prints as one: servers may send either. */
function serialise(token: Token): string {
  if (typeof token === 'string') return token;
  if (Array.isArray(token)) return `(${token.map(serialise).join(' ')})`;
  return /^[^(){ \x00-\x1f\x7f-\xff%*"\\]+$/.test(token.text) && token.text.toUpperCase() !== 'NIL'
    ? token.text
    : JSON.stringify(token.text);
}

/** Flags and attributes are sets: their order is free. */
function sorted(list: Token[]): Token[] {
  return [...list].sort((a, b) => serialise(a).toUpperCase().localeCompare(serialise(b).toUpperCase()));
}

/** Upper case throughout; a list of one string (a body language) reads as that string, as either may be sent. */
function foldBody(token: Token): Token {
  if (typeof token === 'string') return token.toUpperCase();
  if (!Array.isArray(token)) return { text: token.text.toUpperCase() };
  if (token.length === 1 && !Array.isArray(token[0])) return foldBody(token[0]!);
  return token.map(foldBody);
}

/** A UID set in one form (ranges where numbers follow each other): "1,2,3" and "1:3" are the same set. */
function uidSet(set: string): string {
  const uids = set.split(',').flatMap((part) => {
    const [from, to = from] = part.split(':').map(Number);
    return Array.from({ length: Math.min(Math.abs(to! - from!) + 1, 10_000) }, (_, i) => Math.min(from!, to!) + i);
  });
  const ranges: string[] = [];
  for (let i = 0; i < uids.length; i++) {
    let j = i;
    while (j + 1 < uids.length && uids[j + 1] === uids[j]! + 1) j++;
    ranges.push(i === j ? `${uids[i]}` : `${uids[i]}:${uids[j]}`);
    i = j;
  }
  return ranges.join(',');
}
