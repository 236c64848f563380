// Runs a compiled script against one message for one recipient and says what to do with it: the
// folders to store it in (with flags), addresses to redirect it to, a rejection, an automatic reply,
// and whether editheader changed it. Nothing is done here: the caller (flow/sieve-delivery.ts) acts.
//
// Synchronous and bounded: every comparison is charged to a step budget before it runs (by the
// length of what it compares), the clock is checked as the budget is spent, and redirects, actions,
// variables and includes are counted. Running out is a runtime error, which the caller answers with
// the implicit keep: the message goes to the INBOX.
import addressparser from 'nodemailer/lib/addressparser';
import type { AddressPart, Command, CompiledScript, DateZone, IndexSpec, Test } from './compile.ts';
import { datePart, localZone, parseMailDate, parseZone } from './dates.ts';
import { type Captures, compare, matchCost, matchOne, type MatchSpec, relate } from './match.ts';
import { maxReplyDays } from '../mailbox/vacation.ts';
import { SieveError } from './sieve-error.ts';
import { fieldValue, type SieveField, type SieveMessage } from './sieve-message.ts';

export interface SieveLimits {
  /**
   * Work one message's run may do, in estimated microseconds (match.ts matchCost: each comparison is
   * charged before it runs, so none starts that would overrun it), with one per command and test.
   */
  maxSteps: number;
  /** Wall-clock time one message's run may take, in milliseconds. */
  maxMillis: number;
  maxRedirects: number;
  /** Actions (stores, redirects, replies, header edits) one run may take. */
  maxActions: number;
  maxVariables: number;
  /** Characters a variable holds at most (longer values are cut). */
  maxVariableLength: number;
  /** Scripts included inside each other. */
  maxIncludeDepth: number;
}

export const defaultSieveLimits: SieveLimits = {
  maxSteps: 50_000,
  maxMillis: 100,
  maxRedirects: 4,
  maxActions: 32,
  maxVariables: 256,
  maxVariableLength: 4096,
  maxIncludeDepth: 8,
};

export interface VacationAction {
  reason: string;
  subject?: string;
  from?: string;
  addresses: string[];
  mime: boolean;
  handle: string;
  /** How long the same sender is not answered again. */
  seconds: number;
}

export interface StoreAction {
  folder: string;
  flags: string[];
  create: boolean;
}

export interface SieveResult {
  stores: StoreAction[];
  redirects: string[];
  reject?: { reason: string; ereject: boolean };
  vacation?: VacationAction;
  /** Whether the implicit keep is what stored it in the INBOX (nothing the script did cancelled it). */
  implicitKeep: boolean;
  /** Whether the script discarded the message (it may still have stored or redirected it). */
  discarded: boolean;
}

export interface SieveEnvironment {
  /** The envelope: the reverse path ("" for the null sender) and the recipient's address. */
  envelope: { from: string; to: string };
  now: number;
  /** The recipient's folders, for mailboxexists. */
  folders: ReadonlySet<string>;
  /** Personal scripts by name, for include. */
  scripts: ReadonlyMap<string, CompiledScript>;
  limits?: SieveLimits;
  /** The clock for the time limit (milliseconds). */
  clock?: () => number;
}

/** Thrown by stop and return to end a script (or an included one). */
class Stop {
  constructor(readonly all: boolean) {}
}

const protectedFields = new Set(['received', 'auto-submitted']);
const dayUnits = 86_400;

export function runScript(script: CompiledScript, message: SieveMessage, env: SieveEnvironment): SieveResult {
  return new Run(message, env).run(script);
}

class Run {
  private readonly limits: SieveLimits;
  private readonly clock: () => number;
  private readonly deadline: number;
  private steps = 0;
  private actions = 0;
  private readonly stores: StoreAction[] = [];
  private readonly redirects: string[] = [];
  private reject?: { reason: string; ereject: boolean };
  private vacation?: VacationAction;
  private keepCancelled = false;
  private discarded = false;
  private explicitKeep = false;
  private readonly globals = new Map<string, string>();
  private readonly onceDone = new Set<string>();
  private depth = 0;

  constructor(
    private readonly message: SieveMessage,
    private readonly env: SieveEnvironment,
  ) {
    this.limits = env.limits ?? defaultSieveLimits;
    this.clock = env.clock ?? Date.now;
    this.deadline = this.clock() + this.limits.maxMillis;
  }

  run(script: CompiledScript): SieveResult {
    const frame = new Frame(script, this.globals);
    try {
      this.block(script.commands, frame);
    } catch (e) {
      if (!(e instanceof Stop)) throw e;
    }
    const stores = [...this.stores];
    const implicitKeep = !this.keepCancelled && !this.explicitKeep;
    if (implicitKeep) this.store({ folder: 'INBOX', flags: frame.flags(''), create: false }, stores);
    return {
      stores,
      redirects: this.redirects,
      reject: this.reject,
      vacation: this.vacation,
      implicitKeep,
      discarded: this.discarded,
    };
  }

  private charge(units: number, line = 0) {
    this.steps += units;
    if (this.steps > this.limits.maxSteps)
      throw new SieveError(
        `the script would do more work than allowed (about ${this.limits.maxSteps / 1000} ms)`,
        line,
        true,
      );
    if (this.clock() > this.deadline)
      throw new SieveError(`the script ran longer than allowed (${this.limits.maxMillis} ms)`, line, true);
  }

  private action(line: number) {
    if (++this.actions > this.limits.maxActions)
      throw new SieveError(`the script took more than ${this.limits.maxActions} actions`, line, true);
  }

  private block(commands: Command[], frame: Frame) {
    for (const command of commands) this.command(command, frame);
  }

  private command(command: Command, frame: Frame) {
    this.charge(1);
    const x = (s: string) => frame.expand(s);
    switch (command.c) {
      case 'if':
        for (const branch of command.branches)
          if (!branch.test || this.test(branch.test, frame)) {
            this.block(branch.block, frame);
            return;
          }
        return;
      case 'stop':
        throw new Stop(true);
      case 'return':
        throw new Stop(false);
      case 'keep':
        this.noReject('keep', command.line);
        this.explicitKeep = true;
        this.store({ folder: 'INBOX', flags: this.flagsFor(command.flags, frame), create: false });
        this.action(command.line);
        return;
      case 'discard':
        this.keepCancelled = true;
        this.discarded = true;
        return;
      case 'fileinto': {
        this.noReject('fileinto', command.line);
        const folder = x(command.folder);
        if (!folder) throw new SieveError('fileinto: the folder name is empty', command.line, true);
        this.store({ folder, flags: this.flagsFor(command.flags, frame), create: command.create });
        if (!command.copy) this.keepCancelled = true;
        this.action(command.line);
        return;
      }
      case 'redirect': {
        this.noReject('redirect', command.line);
        const address = x(command.address).trim();
        if (!/^[^\s@<>]+@[^\s@<>]+$/.test(address))
          throw new SieveError(`redirect: "${address}" is not a mail address`, command.line, true);
        if (!command.copy) this.keepCancelled = true;
        if (this.redirects.some((r) => r.toLowerCase() === address.toLowerCase())) return;
        if (this.redirects.length >= this.limits.maxRedirects)
          throw new SieveError(`more than ${this.limits.maxRedirects} redirects for one message`, command.line, true);
        this.redirects.push(address);
        this.action(command.line);
        return;
      }
      case 'reject': {
        if (this.reject) throw new SieveError('reject given twice', command.line, true);
        if (this.stores.length || this.explicitKeep || this.redirects.length || this.vacation)
          throw new SieveError(
            `${command.ereject ? 'ereject' : 'reject'} cannot be combined with keep, fileinto, redirect or vacation`,
            command.line,
            true,
          );
        this.reject = { reason: x(command.reason), ereject: command.ereject };
        this.keepCancelled = true;
        this.action(command.line);
        return;
      }
      case 'flag': {
        const name = command.variable ?? '';
        const given = flagList(command.flags.map(x));
        const current = frame.flags(name);
        const next =
          command.op === 'set'
            ? given
            : command.op === 'add'
              ? [...current, ...given.filter((f) => !current.some((c) => c.toLowerCase() === f.toLowerCase()))]
              : current.filter((c) => !given.some((f) => f.toLowerCase() === c.toLowerCase()));
        frame.set(name, next.join(' '), this.limits);
        return;
      }
      case 'set':
        frame.set(command.name, modify(x(command.value), command.modifiers), this.limits);
        return;
      case 'addheader': {
        const name = x(command.name);
        if (!/^[\x21-\x39\x3b-\x7e]+$/.test(name))
          throw new SieveError(`addheader: "${name}" is not a field name`, command.line, true);
        if (protectedFields.has(name.toLowerCase())) return;
        this.action(command.line);
        this.message.addField(name, x(command.value), command.last);
        return;
      }
      case 'deleteheader': {
        const name = x(command.name).toLowerCase();
        if (protectedFields.has(name)) return;
        let fields = this.message.fields.filter((f) => f.key === name);
        fields = pickIndex(fields, command.index);
        const remove = new Set<SieveField>();
        for (const field of fields) {
          if (!command.keys) remove.add(field);
          else if (
            this.matchValues(command.match, [fieldValue(field)], command.keys.map(x), frame, command.line, false)
          )
            remove.add(field);
        }
        if (remove.size) this.action(command.line);
        this.message.deleteFields(remove);
        return;
      }
      case 'vacation': {
        this.noReject('vacation', command.line);
        if (this.vacation) throw new SieveError('vacation given twice', command.line, true);
        const reason = x(command.reason);
        const subject = command.subject === undefined ? undefined : x(command.subject);
        const from = command.from === undefined ? undefined : x(command.from);
        const seconds = command.seconds ?? (command.days ?? 7) * dayUnits;
        this.vacation = {
          reason,
          subject,
          from,
          addresses: command.addresses.map(x),
          mime: command.mime,
          // RFC 5230 4.2: without :handle, replies differ by their reason and arguments.
          handle:
            command.handle !== undefined
              ? x(command.handle)
              : `${reason}${subject ?? '<default-subject>'}${from ?? '<default-from>'}${command.mime ? '<MIME>' : '<NO-MIME>'}`,
          // At least a day, as Pigeonhole's default sieve_vacation_min_period (so :seconds below a day
          // and :days 0 count as a day), and at most the 90 days of the JMAP reply (mailbox/vacation.ts).
          seconds: Math.min(Math.max(seconds, dayUnits), maxReplyDays * dayUnits),
        };
        this.action(command.line);
        return;
      }
      case 'include':
        this.include(command, frame);
        return;
      case 'global':
        for (const name of command.names) frame.makeGlobal(name);
        return;
    }
  }

  private noReject(what: string, line: number) {
    if (this.reject) throw new SieveError(`${what} cannot be combined with reject`, line, true);
  }

  private include(command: Extract<Command, { c: 'include' }>, frame: Frame) {
    const name = frame.expand(command.name);
    const key = `${command.global ? 'global' : 'personal'}:${name}`;
    if (command.once && this.onceDone.has(key)) return;
    const script = command.global ? undefined : this.env.scripts.get(name);
    if (!script) {
      if (command.optional) return;
      throw new SieveError(
        `include: there is no ${command.global ? 'global' : 'personal'} script "${name}"`,
        command.line,
        true,
      );
    }
    if (this.depth >= this.limits.maxIncludeDepth)
      throw new SieveError(`includes are nested more than ${this.limits.maxIncludeDepth} deep`, command.line, true);
    this.onceDone.add(key);
    this.depth++;
    const inner = new Frame(script, this.globals, frame.flags(''));
    try {
      this.block(script.commands, inner);
    } catch (e) {
      if (!(e instanceof Stop) || e.all) throw e;
    } finally {
      this.depth--;
    }
    frame.set('', inner.flags('').join(' '), this.limits);
  }

  private flagsFor(flags: string[] | undefined, frame: Frame): string[] {
    return flags ? flagList(flags.map((f) => frame.expand(f))) : frame.flags('');
  }

  /** Adds a store unless the folder is stored to already (then the flags join). */
  private store(action: StoreAction, stores = this.stores) {
    const same = stores.find((s) => s.folder === action.folder);
    if (!same) stores.push(action);
    else {
      for (const f of action.flags)
        if (!same.flags.some((g) => g.toLowerCase() === f.toLowerCase())) same.flags.push(f);
      same.create ||= action.create;
    }
  }

  private test(test: Test, frame: Frame): boolean {
    this.charge(1);
    const x = (list: string[]) => list.map((s) => frame.expand(s));
    switch (test.t) {
      case 'true':
        return true;
      case 'false':
        return false;
      case 'not':
        return !this.test(test.test, frame);
      case 'allof':
        return test.tests.every((t) => this.test(t, frame));
      case 'anyof':
        return test.tests.some((t) => this.test(t, frame));
      case 'exists':
        return x(test.names).every((n) => this.message.fields.some((f) => f.key === n.toLowerCase()));
      case 'size':
        return test.over ? this.message.size > test.limit : this.message.size < test.limit;
      case 'header': {
        const values = x(test.names).flatMap((n) =>
          pickIndex(
            this.message.fields.filter((f) => f.key === n.toLowerCase()),
            test.index,
          ).map(fieldValue),
        );
        return this.matchValues(test.match, values, x(test.keys), frame, test.line);
      }
      case 'address': {
        const values = x(test.names).flatMap((n) =>
          pickIndex(
            this.message.fields.filter((f) => f.key === n.toLowerCase()),
            test.index,
          ).flatMap((f) => addressesOf(fieldValue(f)).map((a) => addressPart(a, test.part))),
        );
        return this.matchValues(test.match, values, x(test.keys), frame, test.line);
      }
      case 'envelope': {
        const values = x(test.parts).flatMap((p) => {
          const part = p.toLowerCase();
          const address = part === 'from' ? this.env.envelope.from : part === 'to' ? this.env.envelope.to : undefined;
          if (address === undefined) return [];
          // RFC 5228 5.4: the null reverse path is the empty string, for every address part.
          return [address === '' ? '' : addressPart(address, test.part)];
        });
        return this.matchValues(test.match, values, x(test.keys), frame, test.line);
      }
      case 'body': {
        const values =
          test.transform === 'raw'
            ? [this.message.rawBody()]
            : this.message.contentParts(test.transform === 'text' ? ['text'] : x(test.transform.content));
        if (test.match.type === 'count') throw new SieveError('body cannot use :count', test.line, true);
        return this.matchValues(test.match, values, x(test.keys), frame, test.line);
      }
      case 'date': {
        const fields = pickIndex(
          this.message.fields.filter((f) => f.key === frame.expand(test.header).toLowerCase()),
          test.index,
        );
        const values: string[] = [];
        for (const field of fields) {
          const parsed = parseMailDate(fieldValue(field));
          if (!parsed) continue;
          const part = datePart(
            parsed.ms,
            this.zone(test.zone, frame, parsed.zoneMinutes, parsed.ms),
            frame.expand(test.part).toLowerCase(),
          );
          if (part !== undefined) values.push(part);
        }
        return this.matchValues(test.match, values, x(test.keys), frame, test.line);
      }
      case 'currentdate': {
        const now = this.env.now;
        const part = datePart(
          now,
          this.zone(test.zone, frame, localZone(now), now),
          frame.expand(test.part).toLowerCase(),
        );
        return this.matchValues(test.match, part === undefined ? [] : [part], x(test.keys), frame, test.line);
      }
      case 'string': {
        const values = x(test.sources);
        // RFC 5229 5: for :count, empty strings are not counted.
        return this.matchValues(
          test.match,
          test.match.type === 'count' ? values.filter((v) => v !== '') : values,
          x(test.keys),
          frame,
          test.line,
        );
      }
      case 'hasflag': {
        const values = (test.variables ?? ['']).flatMap((v) => frame.flags(v));
        return this.matchValues(test.match, values, x(test.keys), frame, test.line);
      }
      case 'mailboxexists':
        return x(test.names).every((n) => this.env.folders.has(n.toUpperCase() === 'INBOX' ? 'INBOX' : n));
    }
  }

  private zone(zone: DateZone, frame: Frame, original: number, ms: number): number {
    if (zone.kind === 'original') return original;
    if (zone.kind === 'zone') {
      const text = frame.expand(zone.offset);
      return /^[+-]\d{4}$/.test(text) ? parseZone(text) : localZone(ms);
    }
    return localZone(ms);
  }

  /**
   * Whether any value matches any key; a successful :matches or :regex sets the match variables
   * (RFC 5229 3.2) when `capture` is set.
   */
  private matchValues(
    spec: MatchSpec,
    values: string[],
    keys: string[],
    frame: Frame,
    line: number,
    capture = true,
  ): boolean {
    if (spec.type === 'count') {
      this.charge(keys.length, line);
      return keys.some((key) => relate(spec.relation!, compare(spec.comparator, String(values.length), key)));
    }
    for (const value of values)
      for (const key of keys) {
        let result: { matched: boolean; captures?: Captures };
        try {
          this.charge(matchCost(spec, value, key), line);
          result = matchOne(spec, value, key);
        } catch (error) {
          if (error instanceof SieveError && !error.line) throw new SieveError(error.message, line, true);
          throw error;
        }
        if (result.matched) {
          if (capture && result.captures && frame.usesVariables) frame.captures = result.captures;
          return true;
        }
      }
    return false;
  }
}

/** One script's variables (the globals shared with what it includes), match variables and flags. */
class Frame {
  private readonly locals = new Map<string, string>();
  private readonly globalNames = new Set<string>();
  captures: Captures = [];
  readonly usesVariables: boolean;

  constructor(
    script: CompiledScript,
    private readonly globals: Map<string, string>,
    initialFlags?: string[],
  ) {
    this.usesVariables = script.capabilities.has('variables');
    if (initialFlags?.length) this.locals.set('', initialFlags.join(' '));
  }

  makeGlobal(name: string) {
    this.globalNames.add(name);
  }

  private store(name: string) {
    return this.globalNames.has(name) ? this.globals : this.locals;
  }

  get(name: string): string {
    return this.store(name).get(name) ?? '';
  }

  set(name: string, value: string, limits: SieveLimits) {
    const store = this.store(name);
    if (!store.has(name) && store.size >= limits.maxVariables)
      throw new SieveError(`more than ${limits.maxVariables} variables`, 0, true);
    store.set(name, value.slice(0, limits.maxVariableLength));
  }

  flags(name: string): string[] {
    return flagList([this.get(name)]);
  }

  /** "${name}" and "${1}" replaced by their values (RFC 5229 3), once, left to right. */
  expand(text: string): string {
    if (!this.usesVariables || !text.includes('${')) return text;
    return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_.]*|[0-9]+)\}/g, (_, name: string) => {
      if (/^[0-9]+$/.test(name)) return this.captures[Number(name)] ?? '';
      if (name.includes('.')) return '';
      return this.get(name.toLowerCase());
    });
  }
}

/** Flags from a list of space-separated strings, each once (compared without case). */
function flagList(values: string[]): string[] {
  const out: string[] = [];
  for (const flag of values.flatMap((v) => v.split(/\s+/)).filter(Boolean))
    if (!out.some((f) => f.toLowerCase() === flag.toLowerCase())) out.push(flag);
  return out;
}

function pickIndex<T>(items: T[], index: IndexSpec | undefined): T[] {
  if (!index) return items;
  const item = index.last ? items[items.length - index.index] : items[index.index - 1];
  return item === undefined ? [] : [item];
}

interface ParsedEntry {
  address?: string;
  group?: ParsedEntry[];
}

function addressesOf(value: string): string[] {
  const flatten = (list: ParsedEntry[]): string[] =>
    list.flatMap((entry) => (entry.group ? flatten(entry.group) : entry.address ? [String(entry.address)] : []));
  return flatten(addressparser(value) as ParsedEntry[]);
}

function addressPart(address: string, part: AddressPart): string {
  const at = address.lastIndexOf('@');
  if (part === 'all') return address;
  if (part === 'localpart') return at < 0 ? address : address.slice(0, at);
  return at < 0 ? '' : address.slice(at + 1);
}

/** set's modifiers in their order of precedence (RFC 5229 4.1). */
function modify(value: string, modifiers: string[]): string {
  let v = value;
  if (modifiers.includes('lower')) v = v.toLowerCase();
  if (modifiers.includes('upper')) v = v.toUpperCase();
  if (modifiers.includes('lowerfirst')) v = v.charAt(0).toLowerCase() + v.slice(1);
  if (modifiers.includes('upperfirst')) v = v.charAt(0).toUpperCase() + v.slice(1);
  if (modifiers.includes('quotewildcard')) v = v.replace(/[*?\\]/g, '\\$&');
  if (modifiers.includes('quoteregex')) v = v.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');
  if (modifiers.includes('length')) v = String([...v].length);
  return v;
}
