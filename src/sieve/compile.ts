// What a parsed script means: each command and test checked against its signature (RFC 5228 and the
// extensions below), the capabilities it uses required first, and its arguments read into typed nodes
// the interpreter runs. A script that compiles can still fail while it runs (a variable expands to an
// invalid regular expression, an include is missing), never because of its shape.
import { type Comparator, compileRegex, type MatchSpec, type MatchType, type Relation } from './match.ts';
import { type Argument, type CommandNode, type ParseLimits, parseScript, type TestNode } from './parser.ts';
import { SieveError } from './sieve-error.ts';

/** The capabilities `require` accepts (what ManageSieve announces as SIEVE). */
export const sieveExtensions = [
  'fileinto',
  'reject',
  'ereject',
  'envelope',
  'encoded-character',
  'imap4flags',
  'body',
  'variables',
  'relational',
  'comparator-i;ascii-numeric',
  'comparator-i;octet',
  'comparator-i;ascii-casemap',
  'copy',
  'mailbox',
  'date',
  'index',
  'regex',
  'editheader',
  'vacation',
  'vacation-seconds',
  'include',
] as const;
const known = new Set<string>(sieveExtensions);

export type AddressPart = 'all' | 'localpart' | 'domain';
export type DateZone = { kind: 'local' } | { kind: 'original' } | { kind: 'zone'; offset: string };
export interface IndexSpec {
  index: number;
  last: boolean;
}

export type Test =
  | { t: 'true' }
  | { t: 'false' }
  | { t: 'not'; test: Test }
  | { t: 'allof' | 'anyof'; tests: Test[] }
  | { t: 'header'; names: string[]; keys: string[]; match: MatchSpec; index?: IndexSpec; line: number }
  | {
      t: 'address';
      names: string[];
      keys: string[];
      match: MatchSpec;
      part: AddressPart;
      index?: IndexSpec;
      line: number;
    }
  | { t: 'envelope'; parts: string[]; keys: string[]; match: MatchSpec; part: AddressPart; line: number }
  | { t: 'exists'; names: string[] }
  | { t: 'size'; over: boolean; limit: number }
  | { t: 'body'; transform: 'raw' | 'text' | { content: string[] }; keys: string[]; match: MatchSpec; line: number }
  | {
      t: 'date';
      zone: DateZone;
      header: string;
      part: string;
      keys: string[];
      match: MatchSpec;
      index?: IndexSpec;
      line: number;
    }
  | { t: 'currentdate'; zone: DateZone; part: string; keys: string[]; match: MatchSpec; line: number }
  | { t: 'string'; sources: string[]; keys: string[]; match: MatchSpec; line: number }
  | { t: 'hasflag'; variables: string[] | undefined; keys: string[]; match: MatchSpec; line: number }
  | { t: 'mailboxexists'; names: string[] };

export type Command =
  | { c: 'if'; branches: { test?: Test; block: Command[] }[] }
  | { c: 'stop' }
  | { c: 'keep'; flags?: string[]; line: number }
  | { c: 'discard'; line: number }
  | { c: 'fileinto'; folder: string; copy: boolean; create: boolean; flags?: string[]; line: number }
  | { c: 'redirect'; address: string; copy: boolean; line: number }
  | { c: 'reject'; reason: string; ereject: boolean; line: number }
  | { c: 'flag'; op: 'set' | 'add' | 'remove'; variable?: string; flags: string[]; line: number }
  | { c: 'set'; name: string; value: string; modifiers: string[]; line: number }
  | { c: 'addheader'; last: boolean; name: string; value: string; line: number }
  | { c: 'deleteheader'; index?: IndexSpec; name: string; keys?: string[]; match: MatchSpec; line: number }
  | {
      c: 'vacation';
      seconds?: number;
      days?: number;
      subject?: string;
      from?: string;
      addresses: string[];
      mime: boolean;
      handle?: string;
      reason: string;
      line: number;
    }
  | { c: 'include'; global: boolean; once: boolean; optional: boolean; name: string; line: number }
  | { c: 'return' }
  | { c: 'global'; names: string[]; line: number };

export interface CompiledScript {
  commands: Command[];
  /** Capabilities required. */
  capabilities: ReadonlySet<string>;
  /** Personal scripts it includes (their names), for loading them before it runs. */
  includes: string[];
}

export interface CompileLimits extends ParseLimits {
  /** Commands and tests in one script. */
  maxNodes: number;
}

export const defaultCompileLimits: CompileLimits = {
  maxScriptBytes: 256 * 1024,
  maxTokens: 50_000,
  maxNesting: 24,
  maxListLength: 1024,
  maxNodes: 10_000,
};

export function compileScript(text: string, limits: CompileLimits = defaultCompileLimits): CompiledScript {
  return new Compiler(limits).script(parseScript(text, limits));
}

const variableName = /^[A-Za-z_][A-Za-z0-9_]*$/;
const datePartNames = new Set([
  'year',
  'month',
  'day',
  'date',
  'julian',
  'hour',
  'minute',
  'second',
  'time',
  'iso8601',
  'std11',
  'zone',
  'weekday',
]);

/** Reads a node's arguments: tags (some with a value), then positional arguments, in order. */
class Args {
  private readonly tags = new Map<string, Argument | true>();
  readonly positional: Argument[] = [];

  constructor(
    private readonly node: TestNode,
    /** Tags this command accepts, each with whether (and what kind of) value follows. */
    spec: Record<string, 'none' | 'string' | 'strings' | 'number'>,
    private readonly what: string,
  ) {
    const args = node.args;
    for (let i = 0; i < args.length; i++) {
      const arg = args[i]!;
      if (arg.kind !== 'tag') {
        this.positional.push(arg);
        continue;
      }
      if (this.positional.length)
        throw new SieveError(`${what}: tag :${arg.name} must come before the other arguments`, arg.line);
      const kind = spec[arg.name];
      if (!kind) throw new SieveError(`${what}: unknown tag :${arg.name}`, arg.line);
      if (this.tags.has(arg.name)) throw new SieveError(`${what}: tag :${arg.name} given twice`, arg.line);
      if (kind === 'none') {
        this.tags.set(arg.name, true);
        continue;
      }
      const value = args[++i];
      const ok =
        value &&
        (kind === 'number' ? value.kind === 'number' : value.kind === 'strings' && (kind === 'strings' || !value.list));
      if (!ok)
        throw new SieveError(
          `${what}: tag :${arg.name} needs a ${kind === 'strings' ? 'string list' : kind}`,
          arg.line,
        );
      this.tags.set(arg.name, value);
    }
  }

  has(tag: string): boolean {
    return this.tags.has(tag);
  }

  string(tag: string): string | undefined {
    const v = this.tags.get(tag);
    return v && v !== true && v.kind === 'strings' ? v.values[0] : undefined;
  }

  strings(tag: string): string[] | undefined {
    const v = this.tags.get(tag);
    return v && v !== true && v.kind === 'strings' ? v.values : undefined;
  }

  number(tag: string): number | undefined {
    const v = this.tags.get(tag);
    return v && v !== true && v.kind === 'number' ? v.value : undefined;
  }

  /** Exactly these positional arguments ("s": one string, "l": string list, "n": number). */
  expect(shape: string): (string | string[] | number)[] {
    const optionalFirst = shape.startsWith('?');
    const kinds = shape.replace('?', '').split('');
    const given = this.positional;
    if (optionalFirst && given.length === kinds.length - 1) kinds.shift();
    if (given.length !== kinds.length)
      throw new SieveError(
        `${this.what}: expected ${kinds.length} argument${kinds.length === 1 ? '' : 's'}, got ${given.length}`,
        this.node.line,
      );
    return kinds.map((kind, i) => {
      const arg = given[i]!;
      if (kind === 'n') {
        if (arg.kind !== 'number') throw new SieveError(`${this.what}: argument ${i + 1} must be a number`, arg.line);
        return arg.value;
      }
      if (arg.kind !== 'strings')
        throw new SieveError(
          `${this.what}: argument ${i + 1} must be a string${kind === 'l' ? ' list' : ''}`,
          arg.line,
        );
      if (kind === 's') {
        if (arg.list && arg.values.length !== 1)
          throw new SieveError(`${this.what}: argument ${i + 1} must be one string`, arg.line);
        return arg.values[0]!;
      }
      return arg.values;
    });
  }
}

const matchTags = {
  comparator: 'string',
  is: 'none',
  contains: 'none',
  matches: 'none',
  regex: 'none',
  count: 'string',
  value: 'string',
} as const;
const indexTags = { index: 'number', last: 'none' } as const;
const addressTags = { all: 'none', localpart: 'none', domain: 'none' } as const;

class Compiler {
  private capabilities = new Set<string>();
  private nodes = 0;
  private readonly includes = new Set<string>();

  constructor(private readonly limits: CompileLimits) {}

  script(nodes: CommandNode[]): CompiledScript {
    let i = 0;
    for (; i < nodes.length && nodes[i]!.name === 'require'; i++) {
      const node = nodes[i]!;
      const [names] = new Args(node, {}, 'require').expect('l') as [string[]];
      for (const name of names) {
        if (!known.has(name)) throw new SieveError(`require: unknown capability "${name}"`, node.line);
        this.capabilities.add(name);
      }
      if (node.block || node.tests.length) throw new SieveError('require takes no test or block', node.line);
    }
    const rest = nodes.slice(i);
    if (this.capabilities.has('encoded-character')) rest.forEach(decodeEncodedCharacters);
    const commands = this.block(rest);
    return { commands, capabilities: this.capabilities, includes: [...this.includes] };
  }

  private need(capability: string, line: number, what = capability) {
    if (!this.capabilities.has(capability)) throw new SieveError(`${what} needs require "${capability}"`, line);
  }

  private count(line: number) {
    if (++this.nodes > this.limits.maxNodes)
      throw new SieveError(`the script has more than ${this.limits.maxNodes} commands and tests`, line);
  }

  private block(nodes: CommandNode[]): Command[] {
    const out: Command[] = [];
    for (let i = 0; i < nodes.length; i++) {
      const node = nodes[i]!;
      if (node.name === 'if') {
        const branches: { test?: Test; block: Command[] }[] = [this.branch(node)];
        while (nodes[i + 1]?.name === 'elsif' || nodes[i + 1]?.name === 'else') {
          const next = nodes[++i]!;
          if (next.name === 'else') {
            if (next.args.length || next.tests.length) throw new SieveError('else takes no test', next.line);
            if (!next.block) throw new SieveError('else needs a block', next.line);
            branches.push({ block: this.block(next.block) });
            break;
          }
          branches.push(this.branch(next));
        }
        out.push({ c: 'if', branches });
        continue;
      }
      if (node.name === 'elsif' || node.name === 'else') throw new SieveError(`${node.name} without if`, node.line);
      if (node.block) throw new SieveError(`${node.name} takes no block`, node.line);
      if (node.tests.length) throw new SieveError(`${node.name} takes no test`, node.line);
      out.push(this.command(node));
    }
    return out;
  }

  private branch(node: CommandNode): { test: Test; block: Command[] } {
    this.count(node.line);
    if (node.args.length || node.tests.length !== 1)
      throw new SieveError(`${node.name} needs exactly one test`, node.line);
    if (!node.block) throw new SieveError(`${node.name} needs a block`, node.line);
    return { test: this.test(node.tests[0]!), block: this.block(node.block) };
  }

  private command(node: CommandNode): Command {
    this.count(node.line);
    const line = node.line;
    const what = node.name;
    switch (node.name) {
      case 'require':
        throw new SieveError('require must come before every other command', line);
      case 'stop':
        new Args(node, {}, what).expect('');
        return { c: 'stop' };
      case 'keep': {
        const args = new Args(node, this.capabilities.has('imap4flags') ? { flags: 'strings' } : {}, what);
        args.expect('');
        return { c: 'keep', flags: args.strings('flags'), line };
      }
      case 'discard':
        new Args(node, {}, what).expect('');
        return { c: 'discard', line };
      case 'fileinto': {
        this.need('fileinto', line);
        const args = new Args(node, this.tagsIf({ copy: 'copy', create: 'mailbox', flags: 'imap4flags' }), what);
        const [folder] = args.expect('s') as [string];
        this.checkUtf8Folder(folder, line);
        return {
          c: 'fileinto',
          folder,
          copy: args.has('copy'),
          create: args.has('create'),
          flags: args.strings('flags'),
          line,
        };
      }
      case 'redirect': {
        const args = new Args(node, this.tagsIf({ copy: 'copy' }), what);
        const [address] = args.expect('s') as [string];
        if (!this.hasVariables(address) && !plausibleAddress(address))
          throw new SieveError(`redirect: "${address}" is not a mail address`, line);
        return { c: 'redirect', address, copy: args.has('copy'), line };
      }
      case 'reject':
      case 'ereject': {
        this.need(node.name, line);
        const [reason] = new Args(node, {}, what).expect('s') as [string];
        return { c: 'reject', reason, ereject: node.name === 'ereject', line };
      }
      case 'setflag':
      case 'addflag':
      case 'removeflag': {
        this.need('imap4flags', line, node.name);
        const args = new Args(node, {}, what);
        const values = args.expect(this.capabilities.has('variables') ? '?sl' : 'l');
        const variable = values.length === 2 ? this.variable(values[0] as string, line) : undefined;
        return { c: 'flag', op: node.name.slice(0, -4) as 'set', variable, flags: values.at(-1) as string[], line };
      }
      case 'set': {
        this.need('variables', line, 'set');
        const args = new Args(
          node,
          {
            lower: 'none',
            upper: 'none',
            lowerfirst: 'none',
            upperfirst: 'none',
            quotewildcard: 'none',
            quoteregex: 'none',
            length: 'none',
          },
          what,
        );
        const [name, value] = args.expect('ss') as [string, string];
        const modifiers = [
          'lower',
          'upper',
          'lowerfirst',
          'upperfirst',
          'quotewildcard',
          'quoteregex',
          'length',
        ].filter((m) => args.has(m));
        if (args.has('lower') && args.has('upper')) throw new SieveError('set: :lower and :upper together', line);
        if (args.has('lowerfirst') && args.has('upperfirst'))
          throw new SieveError('set: :lowerfirst and :upperfirst together', line);
        if (args.has('quoteregex')) this.need('regex', line, ':quoteregex');
        return { c: 'set', name: this.variable(name, line), value, modifiers, line };
      }
      case 'addheader': {
        this.need('editheader', line, what);
        const args = new Args(node, { last: 'none' }, what);
        const [name, value] = args.expect('ss') as [string, string];
        this.checkFieldName(name, line);
        return { c: 'addheader', last: args.has('last'), name, value, line };
      }
      case 'deleteheader': {
        this.need('editheader', line, what);
        const args = new Args(node, { ...matchTags, ...indexTags }, what);
        const values = args.expect(args.positional.length === 1 ? 's' : 'sl');
        const name = values[0] as string;
        this.checkFieldName(name, line);
        const keys = values[1] as string[] | undefined;
        const match = this.match(args, line);
        if (keys) this.checkKeys(keys, match, line);
        return { c: 'deleteheader', index: this.index(args, line), name, keys, match, line };
      }
      case 'vacation': {
        this.need('vacation', line);
        const tags: Record<string, 'none' | 'string' | 'strings' | 'number'> = {
          days: 'number',
          subject: 'string',
          from: 'string',
          addresses: 'strings',
          mime: 'none',
          handle: 'string',
        };
        if (this.capabilities.has('vacation-seconds')) tags.seconds = 'number';
        const args = new Args(node, tags, what);
        if (args.has('days') && args.has('seconds'))
          throw new SieveError('vacation: :days and :seconds together', line);
        const [reason] = args.expect('s') as [string];
        const from = args.string('from');
        if (from !== undefined && !this.hasVariables(from) && !plausibleAddress(from, true))
          throw new SieveError(`vacation: :from "${from}" is not a mail address`, line);
        return {
          c: 'vacation',
          days: args.number('days'),
          seconds: args.number('seconds'),
          subject: args.string('subject'),
          from,
          addresses: args.strings('addresses') ?? [],
          mime: args.has('mime'),
          handle: args.string('handle'),
          reason,
          line,
        };
      }
      case 'include': {
        this.need('include', line);
        const args = new Args(node, { personal: 'none', global: 'none', once: 'none', optional: 'none' }, what);
        if (args.has('personal') && args.has('global'))
          throw new SieveError('include: :personal and :global together', line);
        const [name] = args.expect('s') as [string];
        if (!/^[^/\u0000-\u001f]{1,128}$/.test(name))
          throw new SieveError(`include: "${name}" is not a script name`, line);
        if (!args.has('global')) this.includes.add(name);
        return {
          c: 'include',
          global: args.has('global'),
          once: args.has('once'),
          optional: args.has('optional'),
          name,
          line,
        };
      }
      case 'return':
        this.need('include', line, what);
        new Args(node, {}, what).expect('');
        return { c: 'return' };
      case 'global': {
        this.need('include', line, what);
        this.need('variables', line, what);
        const [names] = new Args(node, {}, what).expect('l') as [string[]];
        return { c: 'global', names: names.map((n) => this.variable(n, line)), line };
      }
      default:
        throw new SieveError(`unknown command "${node.name}"`, line);
    }
  }

  /** Only the tags whose capability is required. */
  private tagsIf(map: Record<string, string>): Record<string, 'none' | 'strings'> {
    const out: Record<string, 'none' | 'strings'> = {};
    for (const [tag, capability] of Object.entries(map))
      if (this.capabilities.has(capability)) out[tag] = tag === 'flags' ? 'strings' : 'none';
    return out;
  }

  private hasVariables(s: string) {
    return this.capabilities.has('variables') && s.includes('${');
  }

  private variable(name: string, line: number): string {
    if (!variableName.test(name)) throw new SieveError(`"${name}" is not a variable name`, line);
    return name.toLowerCase();
  }

  private checkFieldName(name: string, line: number) {
    if (!this.hasVariables(name) && !/^[\x21-\x39\x3b-\x7e]+$/.test(name))
      throw new SieveError(`"${name}" is not a header field name`, line);
  }

  private checkUtf8Folder(folder: string, line: number) {
    if (folder === '' && !this.hasVariables(folder)) throw new SieveError('fileinto: the folder name is empty', line);
  }

  private test(node: TestNode): Test {
    this.count(node.line);
    const line = node.line;
    const what = node.name;
    const noTests = () => {
      if (node.tests.length) throw new SieveError(`${what} takes no nested test`, line);
    };
    switch (node.name) {
      case 'true':
      case 'false':
        noTests();
        new Args(node, {}, what).expect('');
        return { t: node.name };
      case 'not':
        if (node.args.length || node.tests.length !== 1) throw new SieveError('not needs one test', line);
        return { t: 'not', test: this.test(node.tests[0]!) };
      case 'allof':
      case 'anyof':
        if (node.args.length || node.tests.length === 0) throw new SieveError(`${what} needs a list of tests`, line);
        return { t: node.name, tests: node.tests.map((t) => this.test(t)) };
    }
    noTests();
    switch (node.name) {
      case 'header': {
        const args = new Args(node, this.withIndex(matchTags), what);
        const [names, keys] = args.expect('ll') as [string[], string[]];
        const match = this.match(args, line);
        this.checkKeys(keys, match, line);
        return {
          t: 'header',
          names: names.map((n) => n.toLowerCase()),
          keys,
          match,
          index: this.index(args, line),
          line,
        };
      }
      case 'address': {
        const args = new Args(node, this.withIndex({ ...matchTags, ...addressTags }), what);
        const [names, keys] = args.expect('ll') as [string[], string[]];
        const match = this.match(args, line);
        this.checkKeys(keys, match, line);
        return {
          t: 'address',
          names: names.map((n) => n.toLowerCase()),
          keys,
          match,
          part: this.addressPart(args, line),
          index: this.index(args, line),
          line,
        };
      }
      case 'envelope': {
        this.need('envelope', line);
        const args = new Args(node, { ...matchTags, ...addressTags }, what);
        const [parts, keys] = args.expect('ll') as [string[], string[]];
        for (const part of parts)
          if (!['from', 'to'].includes(part.toLowerCase()) && !this.hasVariables(part))
            throw new SieveError(`envelope: unknown envelope part "${part}" (from or to)`, line);
        const match = this.match(args, line);
        this.checkKeys(keys, match, line);
        return {
          t: 'envelope',
          parts: parts.map((p) => p.toLowerCase()),
          keys,
          match,
          part: this.addressPart(args, line),
          line,
        };
      }
      case 'exists': {
        const [names] = new Args(node, {}, what).expect('l') as [string[]];
        return { t: 'exists', names: names.map((n) => n.toLowerCase()) };
      }
      case 'size': {
        const args = new Args(node, { over: 'none', under: 'none' }, what);
        const [limit] = args.expect('n') as [number];
        if (args.has('over') === args.has('under')) throw new SieveError('size needs :over or :under', line);
        return { t: 'size', over: args.has('over'), limit };
      }
      case 'body': {
        this.need('body', line);
        const args = new Args(node, { ...matchTags, raw: 'none', text: 'none', content: 'strings' }, what);
        const [keys] = args.expect('l') as [string[]];
        if (['raw', 'text', 'content'].filter((t) => args.has(t)).length > 1)
          throw new SieveError('body: only one of :raw, :text and :content', line);
        const match = this.match(args, line);
        this.checkKeys(keys, match, line);
        const content = args.strings('content');
        return { t: 'body', transform: content ? { content } : args.has('raw') ? 'raw' : 'text', keys, match, line };
      }
      case 'date':
      case 'currentdate': {
        this.need('date', line, what);
        const dateTags: Record<string, 'none' | 'string' | 'number'> = { ...matchTags, zone: 'string' };
        if (node.name === 'date') Object.assign(dateTags, this.withIndex({}), { originalzone: 'none' });
        const args = new Args(node, dateTags, what);
        const values = args.expect(node.name === 'date' ? 'ssl' : 'sl');
        const part = (values.at(-2) as string).toLowerCase();
        if (!datePartNames.has(part) && !this.hasVariables(part))
          throw new SieveError(`${what}: unknown date part "${part}"`, line);
        const zoneText = args.string('zone');
        if (zoneText !== undefined && !/^[+-]\d{4}$/.test(zoneText) && !this.hasVariables(zoneText))
          throw new SieveError(`${what}: :zone "${zoneText}" is not a zone like +0100`, line);
        if (args.has('zone') && args.has('originalzone'))
          throw new SieveError(`${what}: :zone and :originalzone together`, line);
        const zone: DateZone =
          zoneText !== undefined
            ? { kind: 'zone', offset: zoneText }
            : args.has('originalzone')
              ? { kind: 'original' }
              : { kind: 'local' };
        const keys = values.at(-1) as string[];
        const match = this.match(args, line);
        this.checkKeys(keys, match, line);
        if (node.name === 'currentdate') return { t: 'currentdate', zone, part, keys, match, line };
        return {
          t: 'date',
          zone,
          header: (values[0] as string).toLowerCase(),
          part,
          keys,
          match,
          index: this.index(args, line),
          line,
        };
      }
      case 'string': {
        this.need('variables', line, 'the string test');
        const args = new Args(node, matchTags, what);
        const [sources, keys] = args.expect('ll') as [string[], string[]];
        const match = this.match(args, line);
        this.checkKeys(keys, match, line);
        return { t: 'string', sources, keys, match, line };
      }
      case 'hasflag': {
        this.need('imap4flags', line, 'hasflag');
        const args = new Args(node, matchTags, what);
        const values = args.expect(this.capabilities.has('variables') ? '?ll' : 'l');
        const variables = values.length === 2 ? (values[0] as string[]).map((v) => this.variable(v, line)) : undefined;
        const match = this.match(args, line);
        const keys = values.at(-1) as string[];
        this.checkKeys(keys, match, line);
        return { t: 'hasflag', variables, keys, match, line };
      }
      case 'mailboxexists': {
        this.need('mailbox', line, what);
        const [names] = new Args(node, {}, what).expect('l') as [string[]];
        return { t: 'mailboxexists', names };
      }
      default:
        throw new SieveError(`unknown test "${node.name}"`, line);
    }
  }

  private withIndex<T extends object>(tags: T): T {
    return this.capabilities.has('index') ? { ...tags, ...indexTags } : tags;
  }

  private index(args: Args, line: number): IndexSpec | undefined {
    const index = args.number('index');
    if (index === undefined) {
      if (args.has('last')) throw new SieveError(':last needs :index', line);
      return undefined;
    }
    if (index < 1) throw new SieveError(':index counts from 1', line);
    return { index, last: args.has('last') };
  }

  private addressPart(args: Args, line: number): AddressPart {
    const parts = (['all', 'localpart', 'domain'] as const).filter((p) => args.has(p));
    if (parts.length > 1) throw new SieveError('only one address part (:all, :localpart, :domain)', line);
    return parts[0] ?? 'all';
  }

  private match(args: Args, line: number): MatchSpec {
    const types = (['is', 'contains', 'matches', 'regex', 'count', 'value'] as MatchType[]).filter((t) => args.has(t));
    if (types.length > 1) throw new SieveError('only one match type', line);
    const type = types[0] ?? 'is';
    if (type === 'regex') this.need('regex', line, ':regex');
    let relation: Relation | undefined;
    if (type === 'count' || type === 'value') {
      this.need('relational', line, `:${type}`);
      const op = args.string(type)!.toLowerCase();
      if (!['gt', 'ge', 'lt', 'le', 'eq', 'ne'].includes(op))
        throw new SieveError(`:${type} "${op}" is not a relation (gt ge lt le eq ne)`, line);
      relation = op as Relation;
    }
    const comparator = (args.string('comparator') ?? 'i;ascii-casemap').toLowerCase();
    if (comparator === 'i;ascii-numeric') this.need('comparator-i;ascii-numeric', line, 'comparator i;ascii-numeric');
    else if (comparator !== 'i;octet' && comparator !== 'i;ascii-casemap')
      throw new SieveError(`unknown comparator "${comparator}"`, line);
    if (comparator === 'i;ascii-numeric' && (type === 'contains' || type === 'matches' || type === 'regex'))
      throw new SieveError(`comparator i;ascii-numeric cannot be used with :${type}`, line);
    return { comparator: comparator as Comparator, type, relation };
  }

  private checkKeys(keys: string[], match: MatchSpec, line: number) {
    if (match.type !== 'regex') return;
    for (const key of keys) {
      if (this.hasVariables(key)) continue;
      try {
        compileRegex(key, match.comparator);
      } catch (error) {
        if (error instanceof SieveError) throw new SieveError(error.message, line);
        throw error;
      }
    }
  }
}

/** A mail address as redirect and vacation's :from take it: local@domain (an RFC 5322 mailbox for :from). */
export function plausibleAddress(text: string, allowName = false): boolean {
  const bare = allowName ? (/<([^<>]*)>\s*$/.exec(text)?.[1] ?? text) : text;
  return /^[^\s@<>()",;:]+@[A-Za-z0-9.-]+$/.test(bare.trim()) || /^"[^"\r\n]+"@[A-Za-z0-9.-]+$/.test(bare.trim());
}

/** RFC 5228 2.4.2.4: "${hex:41 42}" and "${unicode:263a}" in strings, decoded in place (a malformed one stays as written). */
function decodeEncodedCharacters(node: TestNode & { block?: CommandNode[] }) {
  for (const arg of node.args) if (arg.kind === 'strings') arg.values = arg.values.map(decodeEncodedCharacterText);
  node.tests.forEach(decodeEncodedCharacters);
  node.block?.forEach(decodeEncodedCharacters);
}

export function decodeEncodedCharacterText(text: string): string {
  if (!text.includes('${')) return text;
  return text.replace(/\$\{(hex|unicode):([\s0-9A-Fa-f]*)\}/gi, (whole, kind: string, digits: string) => {
    const units = digits.trim().split(/\s+/).filter(Boolean);
    if (units.length === 0) return whole;
    if (kind.toLowerCase() === 'hex') {
      if (units.some((u) => u.length > 2)) return whole;
      return Buffer.from(units.map((u) => Number.parseInt(u, 16))).toString('utf8');
    }
    const points = units.map((u) => Number.parseInt(u, 16));
    if (points.some((p) => p > 0x10ffff || (p >= 0xd800 && p <= 0xdfff))) return whole;
    return String.fromCodePoint(...points);
  });
}
