// The app's JMAP client: the session resource, method calls on /jmap/api/ and push over EventSource,
// all on this origin with the session cookie. Requests that change something carry the CSRF token
// the server gave at sign-in (X-Holdfast-CSRF); JMAP refuses them without it.

export const using = [
  'urn:ietf:params:jmap:core',
  'urn:ietf:params:jmap:mail',
  'urn:ietf:params:jmap:submission',
  'urn:ietf:params:jmap:vacationresponse',
];

/** Who is signed in, as /mail/api/session and /mail/api/login answer. */
export interface Me {
  address: string;
  name: string | null;
  csrfToken: string;
}

export interface EmailAddress {
  name: string | null;
  email: string;
}

export interface Mailbox {
  id: string;
  name: string;
  parentId: string | null;
  role: string | null;
  sortOrder: number;
  totalEmails: number;
  unreadEmails: number;
}

export interface EmailSummary {
  id: string;
  threadId: string;
  mailboxIds: Record<string, boolean>;
  keywords: Record<string, boolean>;
  from: EmailAddress[] | null;
  to: EmailAddress[] | null;
  subject: string | null;
  receivedAt: string;
  preview: string;
  hasAttachment: boolean;
}

export interface BodyPart {
  partId: string | null;
  blobId: string | null;
  type: string;
  name: string | null;
  size: number;
  cid: string | null;
  disposition: string | null;
}

export interface EmailFull extends EmailSummary {
  cc: EmailAddress[] | null;
  replyTo: EmailAddress[] | null;
  sentAt: string | null;
  messageId: string[] | null;
  references: string[] | null;
  textBody: BodyPart[];
  htmlBody: BodyPart[];
  attachments: BodyPart[];
  bodyValues: Record<string, { value: string; isTruncated: boolean }>;
}

export interface Identity {
  id: string;
  name: string;
  email: string;
  textSignature: string;
  htmlSignature: string;
  mayDelete: boolean;
}

/** A file uploaded for a message being written (POST /jmap/upload/…). */
export interface Upload {
  blobId: string;
  type: string;
  name: string;
  size: number;
}

/** The session has ended (signed out elsewhere, expired, password changed): sign in again. */
export class SignedOut extends Error {}

/** A method call answered with an error, or a request refused. */
export class JmapError extends Error {}

type Call = [string, Record<string, unknown>, string];

export class Jmap {
  accountId = '';
  apiUrl = '/jmap/api/';
  eventSourceUrl = '/jmap/eventsource/?types={types}&closeafter={closeafter}&ping={ping}';
  downloadUrl = '/jmap/download/{accountId}/{blobId}/{name}?type={type}';
  uploadUrl = '/jmap/upload/{accountId}/';

  constructor(private readonly me: Me) {}

  /** Reads the session resource: the account and the URLs. */
  async start(): Promise<void> {
    const response = await fetch('/.well-known/jmap', { credentials: 'same-origin' });
    if (response.status === 401) throw new SignedOut('The session has ended');
    if (!response.ok) throw new JmapError(`The server answered ${response.status}`);
    const session = await response.json();
    this.accountId = session.primaryAccounts['urn:ietf:params:jmap:mail'];
    // Paths only: the app talks to the origin it was loaded from.
    this.apiUrl = new URL(session.apiUrl, location.href).pathname;
    this.eventSourceUrl = pathOf(session.eventSourceUrl);
    this.downloadUrl = pathOf(session.downloadUrl);
    this.uploadUrl = pathOf(session.uploadUrl);
  }

  /** Uploads a file (RFC 8620 6.1): its blob id for Email/set, valid for a day. */
  async upload(file: File): Promise<Upload> {
    const response = await fetch(this.uploadUrl.replace('{accountId}', encodeURIComponent(this.accountId)), {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': file.type || 'application/octet-stream', 'X-Holdfast-CSRF': this.me.csrfToken },
      body: file,
    });
    if (response.status === 401) throw new SignedOut('The session has ended');
    if (!response.ok) {
      const problem = await response.json().catch(() => ({}));
      throw new JmapError(`${file.name}: ${problem.detail ?? `the server answered ${response.status}`}`);
    }
    const body = await response.json();
    return { blobId: body.blobId, type: body.type, name: file.name, size: body.size };
  }

  /** Runs method calls; answers their responses in order (an `error` response throws). */
  // biome-ignore lint/suspicious/noExplicitAny: the shape of each answer is the method's
  async call(calls: Call[]): Promise<any[]> {
    const response = await fetch(this.apiUrl, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-Holdfast-CSRF': this.me.csrfToken },
      body: JSON.stringify({ using, methodCalls: calls }),
    });
    if (response.status === 401) throw new SignedOut('The session has ended');
    if (!response.ok) {
      const problem = await response.json().catch(() => ({}));
      throw new JmapError(problem.detail ?? `The server answered ${response.status}`);
    }
    const body = await response.json();
    return body.methodResponses.map(([name, args]: [string, Record<string, unknown>]) => {
      if (name === 'error') throw new JmapError(`${args.type}: ${args.description ?? ''}`);
      return args;
    });
  }

  /** An EventSource for state changes of these types (the browser reconnects by itself). */
  push(types: string[]): EventSource {
    const url = this.eventSourceUrl
      .replace('{types}', types.join(','))
      .replace('{closeafter}', 'no')
      .replace('{ping}', '60');
    return new EventSource(url);
  }

  downloadHref(blobId: string, name: string | null, type: string): string {
    return this.downloadUrl
      .replace('{accountId}', encodeURIComponent(this.accountId))
      .replace('{blobId}', encodeURIComponent(blobId))
      .replace('{name}', encodeURIComponent(name ?? 'download'))
      .replace('{type}', encodeURIComponent(type));
  }
}

/** A URL template's path and query, whatever host the server put in it (the braces kept). */
function pathOf(template: string): string {
  const at = template.indexOf('/', template.indexOf('//') + 2);
  return template.includes('//') ? template.slice(at) : template;
}

/** Signs in; answers who, or throws with the server's words. */
export async function signIn(username: string, password: string): Promise<Me> {
  const response = await fetch('/mail/api/login', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const wait = response.headers.get('Retry-After');
    throw new Error(
      `${body.message ?? `Sign-in failed (${response.status})`}${wait ? ` (try again in ${wait} s)` : ''}`,
    );
  }
  return body as Me;
}

/** Who is signed in, or undefined. */
export async function currentSession(): Promise<Me | undefined> {
  const response = await fetch('/mail/api/session', { credentials: 'same-origin' });
  if (response.status === 401) return undefined;
  if (!response.ok) throw new Error(`The server answered ${response.status}`);
  return response.json();
}

/** Calls the app's own API (/mail/api/…, docs/webmail.md): the answer's JSON, or throws with the server's words. */
// biome-ignore lint/suspicious/noExplicitAny: each route answers its own shape
export async function mailApi(me: Me, method: string, path: string, body?: unknown): Promise<any> {
  const response = await fetch(`/mail/api/${path}`, {
    method,
    credentials: 'same-origin',
    headers: {
      'X-Holdfast-CSRF': me.csrfToken,
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (response.status === 401) throw new SignedOut('The session has ended');
  if (response.status === 204) return undefined;
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) {
    const wait = response.headers.get('Retry-After');
    throw new Error(
      `${answer.message ?? `The server answered ${response.status}`}${wait ? ` (try again in ${wait} s)` : ''}`,
    );
  }
  return answer;
}

export async function signOut(me: Me): Promise<void> {
  await fetch('/mail/api/logout', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'X-Holdfast-CSRF': me.csrfToken },
  });
}

/** "Name <address>, other@example.com" into EmailAddress objects; throws on one that is not an address. */
export function parseAddresses(text: string): EmailAddress[] {
  return splitAddresses(text)
    .map((s) => s.trim())
    .filter(Boolean)
    .map((part) => {
      const angle = /^(.*)<([^<>\s]+@[^<>\s]+)>$/.exec(part);
      const quoted = angle?.[1]?.trim();
      const name = quoted ? (/^"(.*)"$/.exec(quoted)?.[1]?.replace(/\\(.)/g, '$1') ?? quoted) || null : null;
      const email = angle ? angle[2]! : part;
      if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email)) throw new Error(`"${part}" is not an email address`);
      return { name, email };
    });
}

/** A list split at commas and semicolons outside quotes ("Doe, Jane" <jane@example.com> is one). */
function splitAddresses(text: string): string[] {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\\' && quoted) {
      current += c + (text[++i] ?? '');
      continue;
    }
    if (c === '"') quoted = !quoted;
    if ((c === ',' || c === ';') && !quoted) {
      parts.push(current);
      current = '';
    } else current += c;
  }
  return [...parts, current];
}

/** An address as written in a field: the name quoted when it holds a character that would split or misread it. */
export function formatAddress(address: EmailAddress): string {
  if (!address.name) return address.email;
  const name = /[,;<>"@()\\]/.test(address.name) ? `"${address.name.replace(/["\\]/g, '\\$&')}"` : address.name;
  return `${name} <${address.email}>`;
}
