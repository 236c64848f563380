// Calendars, as a calendar app uses them: PUT an event into the probe account's calendar, find it
// again with a time-range REPORT, DELETE it. An incident when any step fails.
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { ListenerInfo } from '../../net/listen.ts';
import { nodeRule, type CheckResult } from '../check-result.ts';
import { isRefused, withinTime, type ProbeAccount, type ProbeContext } from './probe-context.ts';
import { localHost } from './tcp-reachable.ts';

export async function probeCalDav(
  context: ProbeContext,
  listeners: ListenerInfo[],
  account: ProbeAccount,
): Promise<CheckResult[]> {
  const listener = listeners.find((l) => l.name === 'http') ?? listeners.find((l) => l.name === 'https');
  if (!listener) return [];
  const uid = `holdfast-probe-${randomBytes(6).toString('hex')}`;
  const base = `/dav/calendars/${encodeURIComponent(account.address)}/calendar/`;
  const start = new Date(context.now() + 86_400_000);
  const stamp = (d: Date) =>
    d
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d{3}/, '');
  const event = [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//Holdfast//probe//EN',
    'BEGIN:VEVENT',
    `UID:${uid}`,
    `DTSTAMP:${stamp(new Date())}`,
    `DTSTART:${stamp(start)}`,
    `DTEND:${stamp(new Date(start.getTime() + 1_800_000))}`,
    'SUMMARY:Holdfast probe',
    'END:VEVENT',
    'END:VCALENDAR',
    '',
  ].join('\r\n');
  const report = `<?xml version="1.0"?><c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><d:getetag/></d:prop><c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VEVENT"><c:time-range start="${stamp(new Date(start.getTime() - 60_000))}" end="${stamp(new Date(start.getTime() + 3_600_000))}"/></c:comp-filter></c:comp-filter></c:filter></c:calendar-query>`;
  const send = (method: string, path: string, body?: string, headers: Record<string, string> = {}) =>
    davRequest(listener, account, method, path, body, headers);
  const started = performance.now();
  try {
    await withinTime(
      (async () => {
        const put = await send('PUT', `${base}${uid}.ics`, event, {
          'Content-Type': 'text/calendar; charset=utf-8',
          'If-None-Match': '*',
        });
        if (put.status !== 201) throw new Error(`PUT answered ${put.status}: ${put.body.slice(0, 200)}`);
        const found = await send('REPORT', base, report, {
          'Content-Type': 'application/xml; charset=utf-8',
          Depth: '1',
        });
        if (found.status !== 207 || !found.body.includes(`${uid}.ics`))
          throw new Error(`REPORT answered ${found.status} without the event just stored`);
        const removed = await send('DELETE', `${base}${uid}.ics`);
        if (removed.status !== 204) throw new Error(`DELETE answered ${removed.status}`);
      })(),
      context.settings.probeTimeoutMs,
      'the CalDAV probe',
    );
  } catch (error) {
    if (isRefused(error)) return [];
    return [result(context, 'failing', `Storing and finding a probe event failed: ${(error as Error).message}.`)];
  }
  const latencyMs = Math.round(performance.now() - started);
  return [
    { ...result(context, 'healthy', `PUT, REPORT and DELETE of a probe event took ${latencyMs} ms.`), latencyMs },
  ];
}

function result(context: ProbeContext, state: CheckResult['state'], detail: string): CheckResult {
  return {
    rule: nodeRule('probe:caldav', context.node),
    component: 'CalDav',
    state,
    detail,
    issue: {
      classification: 'incident',
      origin: 'customer',
      title: `Calendars cannot be saved or read on ${context.node}`,
      impact: 'Calendar apps cannot show or change events.',
      feature: 'Calendar access',
      publicSummary: 'Calendars are unavailable on one server',
      scope: context.scope(),
    },
  };
}

function davRequest(
  listener: ListenerInfo,
  account: ProbeAccount,
  method: string,
  path: string,
  body: string | undefined,
  headers: Record<string, string>,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = (listener.name === 'https' ? httpsRequest : httpRequest)(
      {
        host: localHost(listener.host),
        port: listener.port,
        method,
        path,
        rejectUnauthorized: false, // this node's own certificate, on loopback
        headers: {
          ...headers,
          Authorization: `Basic ${Buffer.from(`${account.address}:${account.password}`).toString('base64')}`,
          ...(body ? { 'Content-Length': String(Buffer.byteLength(body)) } : {}),
        },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (c: Buffer) => chunks.push(c));
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}
