// The calendar's CalDAV client: the user's calendars (PROPFIND on the calendar home: their own and
// those shared with them, with colours and rights), the events of a time range (REPORT
// calendar-query with `expand`: the server writes every instance, in UTC), one event's stored
// object with its ETag (GET), writes with If-Match / If-None-Match (PUT, DELETE) so a change made
// elsewhere in the meantime is reported rather than overwritten, and free/busy through the
// scheduling outbox (RFC 6638 POST of a VFREEBUSY request). Every request carries the session
// cookie and the CSRF header (docs/webmail.md).
import { type Me, SignedOut } from '../jmap.ts';
import { type Busy, busyPeriods } from './ics.ts';

export type { Busy };

const davNs = 'DAV:';
const calNs = 'urn:ietf:params:xml:ns:caldav';
const appleNs = 'http://apple.com/ns/ical/';

export interface Calendar {
  href: string;
  name: string;
  color: string;
  writable: boolean;
  /** The user's own (not shared with them). */
  own: boolean;
}

/** A stored calendar object. */
export interface Resource {
  href: string;
  etag: string;
  data: string;
}

/** A write refused because the event changed since it was read (412). */
export class Conflict extends Error {}

const palette = ['#1f5fbf', '#2e7d32', '#b5179e', '#c75000', '#00838f', '#6a1b9a'];

/** A colour safe to put in a style: #rgb, #rrggbb or #rrggbbaa, else one of ours. */
function safeColor(value: string | null | undefined, index: number): string {
  const v = (value ?? '').trim();
  if (/^#[0-9a-f]{6}([0-9a-f]{2})?$/i.test(v)) return v.slice(0, 7);
  if (/^#[0-9a-f]{3}$/i.test(v)) return v;
  return palette[index % palette.length]!;
}

const text = (el: Element | null | undefined) => el?.textContent?.trim() ?? '';
const first = (el: Element | Document, ns: string, name: string) => el.getElementsByTagNameNS(ns, name)[0];
const escapeXml = (s: string) => s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

export class CalDav {
  readonly home: string;
  readonly outbox: string;
  constructor(readonly me: Me) {
    this.home = `/dav/calendars/${encodeURIComponent(me.address)}/`;
    this.outbox = `${this.home}outbox/`;
  }

  async request(
    method: string,
    href: string,
    options: { body?: string; type?: string; headers?: Record<string, string> } = {},
  ): Promise<Response> {
    const response = await fetch(href, {
      method,
      credentials: 'same-origin',
      headers: {
        'X-Holdfast-CSRF': this.me.csrfToken,
        ...(options.body !== undefined ? { 'Content-Type': options.type ?? 'application/xml; charset=utf-8' } : {}),
        ...options.headers,
      },
      body: options.body,
    });
    if (response.status === 401) throw new SignedOut('The session has ended');
    if (response.status === 412)
      throw new Conflict('This event was changed elsewhere since you opened it: open it again');
    if (!response.ok) {
      const body = await response.text().catch(() => '');
      // CalDAV errors carry a sentence (text, or XML whose text names the precondition and why).
      const reason = body.includes('<')
        ? (new DOMParser().parseFromString(body, 'application/xml').documentElement?.textContent ?? '')
        : body;
      throw new Error(reason.trim().replace(/\s+/g, ' ').slice(0, 300) || `The server answered ${response.status}`);
    }
    return response;
  }

  private async xml(method: string, href: string, body: string, depth: string): Promise<Document> {
    const response = await this.request(method, href, { body, headers: { Depth: depth } });
    return new DOMParser().parseFromString(await response.text(), 'application/xml');
  }

  /** The calendars in the user's calendar home (their own, and those shared with them). */
  async calendars(): Promise<Calendar[]> {
    const doc = await this.xml(
      'PROPFIND',
      this.home,
      `<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:" xmlns:C="${calNs}" xmlns:A="${appleNs}"><D:prop><D:resourcetype/><D:displayname/><A:calendar-color/><D:current-user-privilege-set/><C:supported-calendar-component-set/></D:prop></D:propfind>`,
      '1',
    );
    const found: Calendar[] = [];
    for (const response of Array.from(doc.getElementsByTagNameNS(davNs, 'response'))) {
      const type = first(response, davNs, 'resourcetype');
      if (!type || !first(type, calNs, 'calendar')) continue;
      const components = Array.from(response.getElementsByTagNameNS(calNs, 'comp')).map((c) =>
        (c.getAttribute('name') ?? '').toUpperCase(),
      );
      if (components.length && !components.includes('VEVENT')) continue;
      const href = text(first(response, davNs, 'href'));
      const privileges = Array.from(response.getElementsByTagNameNS(davNs, 'privilege')).flatMap((p) =>
        Array.from(p.children).map((c) => c.localName),
      );
      found.push({
        href: new URL(href, location.href).pathname,
        name: text(first(response, davNs, 'displayname')) || href,
        color: safeColor(text(first(response, appleNs, 'calendar-color')), found.length),
        writable: privileges.includes('write') || privileges.includes('write-content') || privileges.includes('all'),
        own: !/\/shared-[^/]+\/$/.test(href),
      });
    }
    return found;
  }

  /** The instances of events overlapping [start, end) in a calendar, each a VCALENDAR the server expanded. */
  async expanded(calendar: string, start: number, end: number): Promise<Resource[]> {
    const s = utcStamp(start);
    const e = utcStamp(end);
    const doc = await this.xml(
      'REPORT',
      calendar,
      `<?xml version="1.0" encoding="utf-8"?><C:calendar-query xmlns:D="DAV:" xmlns:C="${calNs}"><D:prop><D:getetag/><C:calendar-data><C:expand start="${s}" end="${e}"/></C:calendar-data></D:prop><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="${s}" end="${e}"/></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>`,
      '1',
    );
    return resourcesOf(doc);
  }

  /** The objects of a calendar holding an event with this UID. */
  async byUid(calendar: string, uid: string): Promise<Resource[]> {
    const doc = await this.xml(
      'REPORT',
      calendar,
      `<?xml version="1.0" encoding="utf-8"?><C:calendar-query xmlns:D="DAV:" xmlns:C="${calNs}"><D:prop><D:getetag/><C:calendar-data/></D:prop><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:prop-filter name="UID"><C:text-match collation="i;octet">${escapeXml(uid)}</C:text-match></C:prop-filter></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>`,
      '1',
    );
    return resourcesOf(doc);
  }

  /** One stored object and its ETag. */
  async get(href: string): Promise<Resource> {
    const response = await this.request('GET', href);
    return { href, etag: response.headers.get('ETag') ?? '', data: await response.text() };
  }

  /** Stores an object: only if unchanged since `etag` was read, or only if new (no `etag`). */
  async put(href: string, data: string, etag?: string): Promise<void> {
    await this.request('PUT', href, {
      body: data,
      type: 'text/calendar; charset=utf-8',
      headers: etag ? { 'If-Match': etag } : { 'If-None-Match': '*' },
    });
  }

  async remove(href: string, etag: string): Promise<void> {
    await this.request('DELETE', href, { headers: etag ? { 'If-Match': etag } : {} });
  }

  /** Busy times of each address over [start, end): the outbox's answers, per address (undefined: not a calendar user here). */
  async freeBusy(addresses: string[], start: number, end: number): Promise<Map<string, Busy[] | undefined>> {
    const answer = new Map<string, Busy[] | undefined>();
    if (!addresses.length) return answer;
    const lines = [
      'BEGIN:VCALENDAR',
      'VERSION:2.0',
      'PRODID:-//Holdfast//Web app//EN',
      'METHOD:REQUEST',
      'BEGIN:VFREEBUSY',
      `UID:${crypto.randomUUID()}`,
      `DTSTAMP:${utcStamp(Date.now())}`,
      `DTSTART:${utcStamp(start)}`,
      `DTEND:${utcStamp(end)}`,
      `ORGANIZER:mailto:${this.me.address}`,
      ...addresses.map((a) => `ATTENDEE:mailto:${a}`),
      'END:VFREEBUSY',
      'END:VCALENDAR',
      '',
    ];
    const response = await this.request('POST', this.outbox, {
      body: lines.join('\r\n'),
      type: 'text/calendar; charset=utf-8',
    });
    const doc = new DOMParser().parseFromString(await response.text(), 'application/xml');
    for (const r of Array.from(doc.getElementsByTagNameNS(calNs, 'response'))) {
      const who = text(first(r, davNs, 'href'))
        .replace(/^mailto:/i, '')
        .toLowerCase();
      const status = text(first(r, calNs, 'request-status'));
      const data = text(first(r, calNs, 'calendar-data'));
      answer.set(who, status.startsWith('2.') && data ? busyPeriods(data) : undefined);
    }
    return answer;
  }
}

function resourcesOf(doc: Document): Resource[] {
  return Array.from(doc.getElementsByTagNameNS(davNs, 'response')).flatMap((r) => {
    const data = text(first(r, calNs, 'calendar-data'));
    if (!data) return [];
    return [
      {
        href: new URL(text(first(r, davNs, 'href')), location.href).pathname,
        etag: text(first(r, davNs, 'getetag')),
        data,
      },
    ];
  });
}

/** 20261207T090000Z */
export function utcStamp(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}
