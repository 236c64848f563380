// Sieve's syntax (RFC 5228 8.2) into a tree of commands and tests, knowing no command's meaning
// (that is compile.ts). Bounded: nesting of blocks and tests, and the number of commands.
import { SieveError } from './sieve-error.ts';
import { type LexLimits, type Token, tokenize } from './lexer.ts';

export type Argument =
  | { kind: 'tag'; name: string; line: number }
  | { kind: 'number'; value: number; line: number }
  | { kind: 'strings'; values: string[]; list: boolean; line: number };

export interface TestNode {
  name: string;
  args: Argument[];
  tests: TestNode[];
  line: number;
}

export interface CommandNode extends TestNode {
  /** The block, for if/elsif/else and any command written with one. */
  block?: CommandNode[];
}

export interface ParseLimits extends LexLimits {
  /** Blocks and tests inside each other. */
  maxNesting: number;
  /** Strings in one string list. */
  maxListLength: number;
}

export function parseScript(text: string, limits: ParseLimits): CommandNode[] {
  return new Parser(tokenize(text, limits), limits).script();
}

class Parser {
  private at = 0;

  constructor(
    private readonly tokens: Token[],
    private readonly limits: ParseLimits,
  ) {}

  script(): CommandNode[] {
    const commands = this.commands(0);
    const extra = this.tokens[this.at];
    if (extra) throw new SieveError(`unexpected "${describe(extra)}"`, extra.line);
    return commands;
  }

  private peek(): Token | undefined {
    return this.tokens[this.at];
  }

  private lastLine(): number {
    return this.tokens.at(-1)?.line ?? 1;
  }

  private expect(kind: Token['kind'], what: string): Token {
    const token = this.tokens[this.at];
    if (!token || token.kind !== kind)
      throw new SieveError(
        `expected ${what}${token ? ` but found "${describe(token)}"` : ' at the end of the script'}`,
        token?.line ?? this.lastLine(),
      );
    this.at++;
    return token;
  }

  private nest(depth: number, line: number) {
    if (depth > this.limits.maxNesting)
      throw new SieveError(`blocks and tests are nested more than ${this.limits.maxNesting} deep`, line);
  }

  private commands(depth: number): CommandNode[] {
    const out: CommandNode[] = [];
    for (;;) {
      const token = this.peek();
      if (!token || token.kind === '}') return out;
      const name = this.expect('identifier', 'a command') as Extract<Token, { kind: 'identifier' }>;
      const { args, tests } = this.arguments(depth, name.line);
      const next = this.peek();
      if (next?.kind === '{') {
        this.at++;
        this.nest(depth + 1, next.line);
        const block = this.commands(depth + 1);
        this.expect('}', '"}"');
        out.push({ name: name.value, args, tests, line: name.line, block });
      } else {
        this.expect(';', `";" after ${name.value}`);
        out.push({ name: name.value, args, tests, line: name.line });
      }
    }
  }

  private arguments(depth: number, line: number): { args: Argument[]; tests: TestNode[] } {
    const args: Argument[] = [];
    for (;;) {
      const token = this.peek();
      if (!token) return { args, tests: [] };
      if (token.kind === 'tag') {
        this.at++;
        args.push({ kind: 'tag', name: token.value, line: token.line });
      } else if (token.kind === 'number') {
        this.at++;
        args.push({ kind: 'number', value: token.value, line: token.line });
      } else if (token.kind === 'string') {
        this.at++;
        args.push({ kind: 'strings', values: [token.value], list: false, line: token.line });
      } else if (token.kind === '[') {
        args.push(this.stringList());
      } else break;
    }
    const token = this.peek();
    if (token?.kind === 'identifier') {
      this.nest(depth + 1, token.line);
      return { args, tests: [this.test(depth + 1)] };
    }
    if (token?.kind === '(') return { args, tests: this.testList(depth + 1, line) };
    return { args, tests: [] };
  }

  private stringList(): Argument {
    const open = this.expect('[', '"["');
    const values: string[] = [];
    for (;;) {
      const s = this.expect('string', 'a string in the list') as Extract<Token, { kind: 'string' }>;
      values.push(s.value);
      if (values.length > this.limits.maxListLength)
        throw new SieveError(`a string list holds more than ${this.limits.maxListLength} strings`, s.line);
      const next = this.peek();
      if (next?.kind === ',') {
        this.at++;
        continue;
      }
      this.expect(']', '"]" or ","');
      return { kind: 'strings', values, list: true, line: open.line };
    }
  }

  private test(depth: number): TestNode {
    const name = this.expect('identifier', 'a test') as Extract<Token, { kind: 'identifier' }>;
    const { args, tests } = this.arguments(depth, name.line);
    return { name: name.value, args, tests, line: name.line };
  }

  private testList(depth: number, line: number): TestNode[] {
    this.nest(depth, line);
    this.expect('(', '"("');
    const tests: TestNode[] = [];
    for (;;) {
      tests.push(this.test(depth));
      const next = this.peek();
      if (next?.kind === ',') {
        this.at++;
        continue;
      }
      this.expect(')', '")" or ","');
      return tests;
    }
  }
}

function describe(token: Token): string {
  if (token.kind === 'identifier' || token.kind === 'string') return String(token.value).slice(0, 40);
  if (token.kind === 'tag') return `:${token.value}`;
  if (token.kind === 'number') return String(token.value);
  return token.kind;
}
