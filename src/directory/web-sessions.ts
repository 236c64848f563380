// Sessions of the web app (docs/webmail.md). The browser signs in once with the password (through
// the HTTP authenticator and login limiter JMAP and CalDAV use, web/webmail-routes.ts) and then
// carries a random id in an HttpOnly, SameSite=Strict cookie; JMAP accepts it (protocols/jmap/
// jmap-auth.ts) as it accepts a password. Only the id's SHA-256 is stored (table web_sessions), so a
// copy of the store opens nothing. A session ends when it is signed out, after `idleMs` without a
// request or `maxAgeMs` after sign-in, when the account is disabled or removed, and when its
// password is changed or `holdfast user kick` runs (the principal's session generation moves on, as
// for IMAP sessions: session-check.ts).
//
// Cross-site requests: the cookie is SameSite=Strict, and a request that changes something (any
// method but GET and HEAD) must also carry the session's CSRF token in the `X-Holdfast-CSRF` header
// (derived from the id, so nothing more is stored; the page learns it when it signs in or from
// /mail/api/session, which another site cannot read). A request with an `Origin` header from
// another origin is refused whatever its method (WebSocket upgrades are GETs).
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';
import { checkPasswordStrength, hashPassword } from './passwords.ts';
import { toPrincipal, type Principal } from './principal.ts';

/** The cookie's name: `__Host-` over HTTPS (browsers then insist on Secure, Path=/ and no Domain). */
export const webSessionCookieName = (secure: boolean) => (secure ? '__Host-hf_session' : 'hf_session');

/** The header carrying the CSRF token on requests that change something. */
export const csrfHeaderName = 'x-holdfast-csrf';

export const webSessionLimits = {
  /** A session unused this long ends. */
  idleMs: 12 * 60 * 60 * 1000,
  /** A session ends this long after sign-in whatever its use. */
  maxAgeMs: 7 * 24 * 60 * 60 * 1000,
  /** How often a session's last use (and so its idle expiry) is written. */
  touchMs: 60_000,
};

/** What a request says about its web session. */
export interface WebSessionRequest {
  /** The request's Cookie header. */
  cookie: string | undefined;
  /** The X-Holdfast-CSRF header. */
  csrfToken: string | undefined;
  method: string;
  /** The Origin header, when the browser sent one. */
  origin: string | undefined;
  /** This server's origin as the request reached it (`https://host:port`). */
  ownOrigin: string;
  secure: boolean;
}

export type WebSessionCheck =
  | { ok: true; principal: Principal; id: string; csrfToken: string; expiresAt: number }
  | { ok: false; status: 401 | 403; message: string };

const hashOf = (id: string) => createHash('sha256').update(id).digest('hex');

/** The CSRF token of a session id: a hash the browser cannot compute without the (HttpOnly) id. */
export const csrfTokenOf = (id: string) => createHash('sha256').update(`csrf:${id}`).digest('base64url');

/** The value of one cookie in a Cookie header, or undefined. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at < 0) continue;
    if (part.slice(0, at).trim() === name) return part.slice(at + 1).trim();
  }
  return undefined;
}

const sameText = (a: string, b: string) => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

export class WebSessions {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly now: () => number,
    private readonly limits = webSessionLimits,
  ) {}

  /** Starts a session for a principal that just signed in; the id goes into the cookie, never into the store. */
  async create(
    principal: Principal,
    client: { remoteAddress: string; userAgent: string },
  ): Promise<{ id: string; csrfToken: string; expiresAt: number }> {
    const now = this.now();
    // Expired sessions go as new ones come (an index on expires_at keeps this cheap).
    await this.db.deleteFrom('web_sessions').where('expires_at', '<', now).execute();
    const id = randomBytes(32).toString('base64url');
    const expiresAt = now + this.limits.idleMs;
    await this.db
      .insertInto('web_sessions')
      .values({
        id_hash: hashOf(id),
        principal_id: principal.id,
        session_generation: principal.sessionGeneration,
        created_at: now,
        last_seen_at: now,
        expires_at: expiresAt,
        remote_address: client.remoteAddress.slice(0, 100),
        user_agent: client.userAgent.slice(0, 300),
      })
      .execute();
    return { id, csrfToken: csrfTokenOf(id), expiresAt };
  }

  /** Ends a session (signing out); an unknown id is no error. */
  async destroy(id: string): Promise<void> {
    await this.db.deleteFrom('web_sessions').where('id_hash', '=', hashOf(id)).execute();
  }

  /**
   * The principal of a request's session cookie: undefined when it carries none (other ways of
   * signing in may apply), else the principal or why not (401: no such session or it ended; 403: a
   * cross-site request or a missing CSRF token).
   */
  async check(request: WebSessionRequest): Promise<WebSessionCheck | undefined> {
    const id = cookieValue(request.cookie, webSessionCookieName(request.secure));
    if (!id) return undefined;
    if (request.origin !== undefined && request.origin !== request.ownOrigin)
      return { ok: false, status: 403, message: `Requests from ${request.origin} may not use this session` };
    const method = request.method.toUpperCase();
    if (method !== 'GET' && method !== 'HEAD') {
      if (!request.csrfToken || !sameText(request.csrfToken, csrfTokenOf(id)))
        return { ok: false, status: 403, message: 'The X-Holdfast-CSRF header is missing or wrong' };
    }
    const found = await this.db
      .selectFrom('web_sessions as s')
      .innerJoin('principals as p', 'p.id', 's.principal_id')
      .selectAll('p')
      .select([
        's.session_generation as signed_in_generation',
        's.created_at as session_created_at',
        's.last_seen_at',
        's.expires_at',
      ])
      .where('s.id_hash', '=', hashOf(id))
      .executeTakeFirst();
    const ended = { ok: false, status: 401, message: 'The session has ended: sign in again' } as const;
    if (!found) return ended;
    const now = this.now();
    if (
      Number(found.expires_at) <= now ||
      found.disabled_at !== null ||
      found.session_generation !== found.signed_in_generation
    ) {
      await this.destroy(id);
      return ended;
    }
    let expiresAt = Number(found.expires_at);
    if (now - Number(found.last_seen_at) >= this.limits.touchMs) {
      expiresAt = Math.min(Number(found.session_created_at) + this.limits.maxAgeMs, now + this.limits.idleMs);
      await this.db
        .updateTable('web_sessions')
        .set({ last_seen_at: now, expires_at: expiresAt })
        .where('id_hash', '=', hashOf(id))
        .execute();
    }
    return { ok: true, principal: toPrincipal(found), id, csrfToken: csrfTokenOf(id), expiresAt };
  }
}

/** One of a principal's sessions as its owner sees it in the app's settings. */
export interface WebSessionInfo {
  /** The start of the id's hash: names the session without being its cookie. */
  handle: string;
  createdAt: number;
  lastSeenAt: number;
  expiresAt: number;
  remoteAddress: string;
  userAgent: string;
  /** The session this request came with. */
  current: boolean;
}

/** A session's handle: the first 16 hex digits of its id's hash (what settings show and sign out by). */
const handleOf = (idHash: string) => idHash.slice(0, 16);

/**
 * What the signed-in user does with their own sessions and password from the app's settings
 * (web/webmail-settings-routes.ts). Each takes the id of the session the request came with.
 */
export class OwnWebSessions {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly now: () => number,
  ) {}

  /** The principal's sessions still running, the newest first. */
  async list(principal: Principal, currentId: string): Promise<WebSessionInfo[]> {
    const current = hashOf(currentId);
    const rows = await this.db
      .selectFrom('web_sessions')
      .selectAll()
      .where('principal_id', '=', principal.id)
      .where('session_generation', '=', principal.sessionGeneration)
      .where('expires_at', '>', this.now())
      .orderBy('created_at', 'desc')
      .execute();
    return rows.map((r) => ({
      handle: handleOf(r.id_hash),
      createdAt: Number(r.created_at),
      lastSeenAt: Number(r.last_seen_at),
      expiresAt: Number(r.expires_at),
      remoteAddress: r.remote_address,
      userAgent: r.user_agent,
      current: r.id_hash === current,
    }));
  }

  /** Ends one of the principal's sessions by its handle (not the current one); false when there is none. */
  async endOne(principal: Principal, currentId: string, handle: string): Promise<boolean> {
    if (!/^[0-9a-f]{16}$/.test(handle)) return false;
    const rows = await this.db
      .selectFrom('web_sessions')
      .select('id_hash')
      .where('principal_id', '=', principal.id)
      .execute();
    const target = rows.find((r) => handleOf(r.id_hash) === handle && r.id_hash !== hashOf(currentId));
    if (!target) return false;
    await this.db
      .deleteFrom('web_sessions')
      .where('id_hash', '=', target.id_hash)
      .where('principal_id', '=', principal.id)
      .execute();
    return true;
  }

  /** Ends every session of the principal but the current one; how many. */
  async endOthers(principal: Principal, currentId: string): Promise<number> {
    const result = await this.db
      .deleteFrom('web_sessions')
      .where('principal_id', '=', principal.id)
      .where('id_hash', '!=', hashOf(currentId))
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  /**
   * Sets the principal's new password (the caller has checked the current one): the strength rule
   * and the KDF every way of setting a password uses, and, in one transaction, a new session
   * generation — which ends the user's IMAP, POP3, JMAP and CalDAV sessions and drops their entries
   * in the cache of verified sign-ins (credential-cache.ts compares the hash and generation) — with
   * the current web session moved to the new generation and every other web session deleted. One
   * transaction, so no request of the current session ever sees it ended.
   */
  async changePassword(principal: Principal, currentId: string, password: string): Promise<void> {
    checkPasswordStrength(password, principal.address);
    const passwordHash = await hashPassword(password);
    await this.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('principals')
        .set((eb) => ({ password_hash: passwordHash, session_generation: eb('session_generation', '+', 1) }))
        .where('id', '=', principal.id)
        .where('tenant_id', '=', principal.tenantId)
        .execute();
      const row = await trx
        .selectFrom('principals')
        .select('session_generation')
        .where('id', '=', principal.id)
        .executeTakeFirstOrThrow();
      await trx
        .updateTable('web_sessions')
        .set({ session_generation: row.session_generation })
        .where('id_hash', '=', hashOf(currentId))
        .execute();
      await trx
        .deleteFrom('web_sessions')
        .where('principal_id', '=', principal.id)
        .where('id_hash', '!=', hashOf(currentId))
        .execute();
    });
  }
}

/** A request's session cookie, CSRF header and origin, from its headers (a Fastify or node:http request). */
export function webSessionRequest(
  request: { headers: Record<string, string | string[] | undefined>; method: string },
  secure: boolean,
): WebSessionRequest {
  const header = (name: string) => {
    const value = request.headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
  return {
    cookie: header('cookie'),
    csrfToken: header(csrfHeaderName),
    method: request.method,
    origin: header('origin'),
    ownOrigin: `${secure ? 'https' : 'http'}://${header('host') ?? ''}`,
    secure,
  };
}
