// What the admin API's routes share (docs/administration.md, "Admin API"): who is asking (HTTP
// Basic, an API token or the web app's session cookie with its CSRF header: admin-auth.ts), JSON
// answers that are never cached, domain errors as their HTTP status with `{error: {code, message}}`,
// and reading a request's fields, each refusal naming its field (`{error: {code: "invalid-field",
// field, message}}`). Every field is read before anything changes, so a bad request changes nothing.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { HoldfastError } from '../errors.ts';
import { type AdminIdentity, errorCodes, requireAdmin } from './admin-auth.ts';
import type { WebContext } from './web-context.ts';

const signInHint =
  'HTTP Basic (address and password), Authorization: Bearer <token from `holdfast token create`>, or the web app session';

export const adminWording = {
  realm: 'Holdfast admin',
  body: (status: number, message: string) => ({
    error: { code: errorCodes[status], message: status === 401 ? `${message} (${signInHint})` : message },
  }),
};

/** A field of a request that is missing, of the wrong type or out of range. */
export class FieldError extends HoldfastError {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super('invalid', 'invalid-field', `${field}: ${message}`);
  }
}

/** Runs `check`; an invalid-input error it throws becomes a FieldError of `field`. */
export function asField<T>(field: string, check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (error instanceof HoldfastError && error.kind === 'invalid' && !(error instanceof FieldError))
      throw new FieldError(field, error.message);
    throw error;
  }
}

export type AdminHandler = (admin: AdminIdentity, request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

/** A route of the admin API: the administrator is known before `work` runs, and its errors are answered as JSON. */
export function adminRoute(holdfast: WebContext, work: AdminHandler) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    reply.header('Cache-Control', 'no-store');
    try {
      const admin = await requireAdmin(holdfast, request, reply, adminWording);
      if (!admin) return reply;
      return await work(admin, request, reply);
    } catch (error) {
      if (!(error instanceof HoldfastError)) throw error;
      return reply.code(error.httpStatus).send({
        error: {
          code: error.code,
          message: error.message,
          ...(error instanceof FieldError ? { field: error.field } : {}),
        },
      });
    }
  };
}

/** Reads the fields of a JSON body or a query string; names the field in every refusal. */
export class Fields {
  private readonly values: Record<string, unknown>;

  constructor(input: unknown, allowed: string[]) {
    if (input === undefined || input === null) input = {};
    if (typeof input !== 'object' || Array.isArray(input)) throw new FieldError('body', 'expected a JSON object');
    this.values = input as Record<string, unknown>;
    const unknown = Object.keys(this.values).find((key) => !allowed.includes(key));
    if (unknown) throw new FieldError(unknown, `not a field of this request (expected ${allowed.join(', ')})`);
  }

  has(name: string): boolean {
    return this.values[name] !== undefined;
  }

  /** The value as sent, for fields of more than one type. */
  raw(name: string): unknown {
    return this.values[name];
  }

  /** A string, or undefined when absent; `max` bounds its length. */
  text(name: string, options: { required?: boolean; max?: number } = {}): string | undefined {
    const value = this.values[name];
    if (value === undefined || (value === '' && !options.required)) {
      if (options.required) throw new FieldError(name, 'is required');
      return value === '' ? '' : undefined;
    }
    if (typeof value !== 'string') throw new FieldError(name, 'expected a string');
    if (options.required && !value.trim()) throw new FieldError(name, 'is required');
    const max = options.max ?? 1000;
    if (value.length > max) throw new FieldError(name, `at most ${max} characters`);
    return value;
  }

  required(name: string, max?: number): string {
    return this.text(name, { required: true, max })!;
  }

  /** One of `choices`. */
  choice<T extends string>(name: string, choices: readonly T[]): T | undefined {
    const value = this.text(name);
    if (value === undefined || value === '') return undefined;
    if (!choices.includes(value as T)) throw new FieldError(name, `"${value}" is not one of ${choices.join(', ')}`);
    return value as T;
  }

  boolean(name: string): boolean | undefined {
    const value = this.values[name];
    if (value === undefined) return undefined;
    if (value === true || value === 'true') return true;
    if (value === false || value === 'false') return false;
    throw new FieldError(name, 'expected true or false');
  }

  /** A whole number in [min, max] (a query string's digits too), or `fallback`. */
  integer(name: string, min: number, max: number, fallback: number): number {
    const value = this.values[name];
    if (value === undefined || value === '') return fallback;
    const number = typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value;
    if (typeof number !== 'number' || !Number.isInteger(number) || number < min || number > max)
      throw new FieldError(name, `expected a whole number from ${min} to ${max}`);
    return number;
  }

  /** A time as an ISO 8601 date-time or epoch milliseconds, as epoch milliseconds. */
  time(name: string): number | undefined {
    const value = this.text(name, { max: 40 });
    if (!value) return undefined;
    const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
    if (!Number.isFinite(ms))
      throw new FieldError(
        name,
        `"${value}" is not a time (ISO 8601, e.g. 2026-12-06T10:00:00Z, or epoch milliseconds)`,
      );
    return ms;
  }
}

/** The `{offset, limit}` of a listing, from its query string (limit at most 500, offset at most 10,000). */
export function paging(fields: Fields): { offset: number; limit: number } {
  return { offset: fields.integer('offset', 0, 10_000, 0), limit: fields.integer('limit', 1, 500, 50) };
}
