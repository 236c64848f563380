// bench/caldav: the same CalDAV workload against Holdfast and against Radicale (Debian's radicale,
// loopback, non-standard port) in the same run.
//
// 1. PUT 1,000 events (10% weekly recurring) one after another into one new calendar. Prints the
//    PUT rate overall and for the first and last tenth, to show whether it stays flat as the
//    collection grows.
// 2. calendar-query REPORTs with a time range of one month and of one year, and a PROPFIND Depth 1 of
//    the collection (getetag), each repeated; prints the median time.
//
//   npm run bench:caldav -- [--events 1000] [--repeat 20] [--database postgres://…]
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchArgs } from './lib/bench-args.ts';
import { storeName } from './lib/bench-store.ts';
import { guarded, withStarted } from './lib/cleanup.ts';
import { withInstallation } from './lib/holdfast-process.ts';
import { requireTool } from './lib/peers.ts';

const { values } = benchArgs(import.meta.url, {
  events: { type: 'string', default: '1000' },
  repeat: { type: 'string', default: '20' },
});
const eventCount = Number(values.events);
const repeat = Number(values.repeat);

interface Target {
  name: string;
  /** URL of the calendar collection, ending in / */
  calendar: string;
  authorization: string;
}

function event(i: number): string {
  // Spread over two years from 1 January 2026, during working hours.
  const start = new Date(Date.UTC(2026, 0, 1, 8 + (i % 9), 0, 0) + Math.floor((i * 730) / eventCount) * 86_400_000);
  const stamp = (d: Date) =>
    d
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d{3}/, '');
  const end = new Date(start.getTime() + 3_600_000);
  const recurring = i % 10 === 0 ? ['RRULE:FREQ=WEEKLY;COUNT=20'] : [];
  return [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//Holdfast bench//EN',
    'BEGIN:VEVENT',
    `UID:bench-${i}@bench.example`,
    'DTSTAMP:20261101T000000Z',
    `DTSTART:${stamp(start)}`,
    `DTEND:${stamp(end)}`,
    `SUMMARY:Benchmark event ${i}`,
    `DESCRIPTION:Agenda item ${i} for the quarterly planning review`,
    'LOCATION:Room 4',
    ...recurring,
    'END:VEVENT',
    'END:VCALENDAR',
    '',
  ].join('\r\n');
}

async function send(target: Target, method: string, url: string, body?: string, headers: Record<string, string> = {}) {
  const response = await fetch(url, { method, body, headers: { Authorization: target.authorization, ...headers } });
  const text = await response.text();
  if (response.status >= 300)
    throw new Error(`${target.name}: ${method} ${url}: ${response.status} ${text.slice(0, 200)}`);
  return text;
}

const rangeQuery = (start: string, end: string) =>
  `<?xml version="1.0"?><c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><d:getetag/><c:calendar-data/></d:prop><c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VEVENT"><c:time-range start="${start}" end="${end}"/></c:comp-filter></c:comp-filter></c:filter></c:calendar-query>`;
const propfind =
  '<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:getetag/><d:getcontenttype/></d:prop></d:propfind>';

async function timeIt(fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await fn();
  return performance.now() - started;
}

const median = (list: number[]) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)]!;

async function measure(target: Target) {
  await send(
    target,
    'MKCALENDAR',
    target.calendar,
    '<?xml version="1.0"?><c:mkcalendar xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:set><d:prop><d:displayname>Bench</d:displayname></d:prop></d:set></c:mkcalendar>',
  );
  const putTimes: number[] = [];
  for (let i = 0; i < eventCount; i++) {
    putTimes.push(
      await timeIt(() =>
        send(target, 'PUT', `${target.calendar}event-${i}.ics`, event(i), {
          'Content-Type': 'text/calendar; charset=utf-8',
          'If-None-Match': '*',
        }),
      ),
    );
  }
  const tenth = Math.max(1, Math.floor(eventCount / 10));
  const rate = (list: number[]) => (list.length * 1000) / list.reduce((a, b) => a + b, 0);
  const month: number[] = [];
  const year: number[] = [];
  const listing: number[] = [];
  let monthHits = 0;
  for (let r = 0; r < repeat; r++) {
    month.push(
      await timeIt(
        async () =>
          (monthHits =
            (
              await send(target, 'REPORT', target.calendar, rangeQuery('20260601T000000Z', '20260701T000000Z'), {
                Depth: '1',
                'Content-Type': 'application/xml',
              })
            ).split('<C:calendar-data').length - 1),
      ),
    );
    year.push(
      await timeIt(() =>
        send(target, 'REPORT', target.calendar, rangeQuery('20260101T000000Z', '20270101T000000Z'), {
          Depth: '1',
          'Content-Type': 'application/xml',
        }),
      ),
    );
    listing.push(
      await timeIt(() =>
        send(target, 'PROPFIND', target.calendar, propfind, { Depth: '1', 'Content-Type': 'application/xml' }),
      ),
    );
  }
  return {
    putRate: rate(putTimes),
    firstTenth: rate(putTimes.slice(0, tenth)),
    lastTenth: rate(putTimes.slice(-tenth)),
    month: median(month),
    year: median(year),
    listing: median(listing),
    monthHits,
  };
}

async function runRadicale() {
  requireTool('/usr/bin/radicale', 'radicale');
  const dir = mkdtempSync(join(tmpdir(), 'holdfast-bench-radicale-'));
  const port = 25_232;
  writeFileSync(
    join(dir, 'config'),
    `[server]\nhosts = 127.0.0.1:${port}\n[auth]\ntype = none\n[storage]\nfilesystem_folder = ${join(dir, 'collections')}\n[logging]\nlevel = warning\n`,
  );
  return guarded(
    () => rmSync(dir, { recursive: true, force: true }),
    () =>
      withStarted(
        () =>
          spawn('/usr/bin/python3', ['-m', 'radicale', '--config', join(dir, 'config')], {
            stdio: ['ignore', 'ignore', 'inherit'],
          }),
        (child) => child.kill('SIGTERM'),
        async () => {
          for (let i = 0; ; i++) {
            try {
              await fetch(`http://127.0.0.1:${port}/`);
              break;
            } catch (error) {
              if (i > 100) throw error;
              await new Promise((r) => setTimeout(r, 100));
            }
          }
          return measure({
            name: 'Radicale',
            calendar: `http://127.0.0.1:${port}/bench/bench/`,
            authorization: `Basic ${Buffer.from('bench:bench').toString('base64')}`,
          });
        },
      ),
  );
}

async function runHoldfast() {
  return withInstallation(values.database, async (installation) => {
    installation.cli(['user', 'add', 'bench@bench.example', '--password', 'Calendar-Load-77']);
    const server = await installation.start({ HOLDFAST_HTTP_PORT: '0' });
    return measure({
      name: 'Holdfast',
      calendar: `http://127.0.0.1:${server.port('http')}/dav/calendars/bench@bench.example/bench/`,
      authorization: `Basic ${Buffer.from('bench@bench.example:Calendar-Load-77').toString('base64')}`,
    });
  });
}

const radicaleVersion = spawnSync('/usr/bin/python3', ['-c', 'import radicale; print(radicale.VERSION)'], {
  encoding: 'utf8',
}).stdout.trim();
const peer = await runRadicale();
const ours = await runHoldfast();

const row = (name: string, r: typeof ours) =>
  `${name.padEnd(20)}${r.putRate.toFixed(0).padStart(8)} ${r.firstTenth.toFixed(0).padStart(8)} ${r.lastTenth.toFixed(0).padStart(8)} ${r.month.toFixed(1).padStart(10)} ${r.year.toFixed(1).padStart(10)} ${r.listing.toFixed(1).padStart(10)}`;
console.log(
  `caldav: ${eventCount} events PUT one after another (10% recurring), then ${repeat}× each query; month query matches ${ours.monthHits} (Radicale ${peer.monthHits})`,
);
console.log('');
console.log('                     PUT/s  first10%  last10%   month ms    year ms  PROPFIND ms');
console.log(row(`Radicale ${radicaleVersion}`, peer));
console.log(row(`Holdfast (${storeName(values.database)})`, ours));
console.log(
  `ratio                ${(ours.putRate / peer.putRate).toFixed(1).padStart(7)}×                   ${(ours.month / peer.month).toFixed(2).padStart(10)} ${(ours.year / peer.year).toFixed(2).padStart(10)} ${(ours.listing / peer.listing).toFixed(2).padStart(10)}`,
);
console.log('(PUT: Holdfast ÷ Radicale, higher is better; query times: Holdfast ÷ Radicale, lower is better)');
