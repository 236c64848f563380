// Recurrence expansion is bounded in work, not only in instances found: rules that never produce a
// second instance, durations and intervals that would keep ical.js busy for hours are refused at once,
// and queries that start years after DTSTART cost what the range holds, not what came before it.
// Whether an object is accepted depends on iteration steps alone; the time bounds asserted here are
// loose (5 s, where an unbounded rule runs for hours) so that a loaded CI machine, where a cold step
// costs ten times more, does not fail them. The slowest fuzzed case is printed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCalendarObject } from '../../src/calendar/calendar-object.ts';
import { instances, instancesWithinBudget } from '../../src/calendar/recurrence.ts';
import { ExpansionBudget } from '../../src/calendar/recurrence-budget.ts';
import { HoldfastError } from '../../src/errors.ts';

function event(lines: string[]): string {
  return [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//Holdfast tests//EN',
    'BEGIN:VEVENT',
    'UID:r-1',
    'DTSTAMP:20261101T000000Z',
    ...lines,
    'END:VEVENT',
    'END:VCALENDAR',
    '',
  ].join('\r\n');
}

/** Runs `work` and returns how long it took, in ms. */
function timed(work: () => void): number {
  const started = performance.now();
  work();
  return performance.now() - started;
}

/** A small deterministic generator, so a failing case can be run again. */
function random(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state * 1_664_525 + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
  return {
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!,
    int: (max: number) => Math.floor(next() * max),
    chance: (p: number) => next() < p,
  };
}

const hostileRules = [
  'FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30',
  'FREQ=HOURLY;BYMONTH=4;BYMONTHDAY=31',
  'FREQ=MINUTELY;BYMONTH=2;BYMONTHDAY=30',
  'FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=30',
  'FREQ=YEARLY;BYMONTH=4;BYDAY=1MO;BYMONTHDAY=15,16,17,18,19,20,21',
  'FREQ=DAILY;COUNT=5000;BYMONTH=11;BYMONTHDAY=31',
  'FREQ=DAILY;INTERVAL=2147483647',
];

describe('Recurrence expansion bounds', () => {
  for (const rule of hostileRules) {
    it(`refuses RRULE:${rule} within its budget`, () => {
      let refusal: unknown;
      const ms = timed(() => {
        try {
          parseCalendarObject(event(['DTSTART;TZID=Europe/Berlin:20260105T100000', 'DURATION:PT1H', `RRULE:${rule}`]));
        } catch (error) {
          refusal = error;
        }
      });
      assert.ok(refusal instanceof HoldfastError, `refused (${String(refusal)})`);
      assert.equal(refusal.code, 'valid-calendar-data');
      assert.ok(ms < 5000, `took ${ms.toFixed(0)} ms`);
    });
  }

  for (const duration of ['P99999999999W', 'PT99999999999999S', 'P3000000D']) {
    it(`refuses DURATION:${duration} at once`, () => {
      const ms = timed(() =>
        assert.throws(
          () => parseCalendarObject(event(['DTSTART:20260105T100000Z', `DURATION:${duration}`])),
          /ends after the year 9999/,
        ),
      );
      assert.ok(ms < 5000, `took ${ms.toFixed(0)} ms`);
    });

    it(`refuses an RDATE period of ${duration} at once`, () => {
      const ms = timed(() =>
        assert.throws(
          () =>
            parseCalendarObject(event(['DTSTART:20260105T100000Z', `RDATE;VALUE=PERIOD:20260106T100000Z/${duration}`])),
          /ends after the year 9999/,
        ),
      );
      assert.ok(ms < 5000, `took ${ms.toFixed(0)} ms`);
    });
  }

  it('refuses an RDATE period that ends before it starts', () => {
    for (const period of ['20260106T100000Z/-PT1H', '20260106T100000Z/20260106T090000Z']) {
      assert.throws(
        () => parseCalendarObject(event(['DTSTART:20260105T100000Z', `RDATE;VALUE=PERIOD:${period}`])),
        /negative|ends before it starts/,
      );
    }
  });

  it('keeps rules that are rare but real: a leap day, the last Friday, every weekday', () => {
    for (const rule of [
      'FREQ=DAILY;BYMONTH=2;BYMONTHDAY=29',
      'FREQ=MONTHLY;BYDAY=-1FR',
      'FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR',
      'FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29',
    ]) {
      const object = parseCalendarObject(event(['DTSTART:20240105T100000Z', 'DURATION:PT1H', `RRULE:${rule}`]));
      assert.ok(
        [
          ...instances(object, Date.UTC(2026, 0, 1), Date.UTC(2029, 0, 1), {
            budget: new ExpansionBudget(20_000, 60_000),
          }),
        ].length > 0,
        rule,
      );
    }
  });

  it('reads a stored object whose rule is too costly as open-ended instead of failing', () => {
    const object = parseCalendarObject(
      event(['DTSTART:20260105T100000Z', 'DURATION:PT1H', 'RRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30']),
      'open-ended',
    );
    assert.equal(object.span.end, 8_640_000_000_000_000);
    // ical.js looks for the second instance before it hands out the first: the query ends with none.
    const ms = timed(() =>
      assert.ok([...instancesWithinBudget(object, Date.UTC(2026, 0, 1), Date.UTC(2027, 0, 1))].length <= 1),
    );
    assert.ok(ms < 5000, `took ${ms.toFixed(0)} ms`);
  });

  it('answers a query years after DTSTART from the range, not from the start', () => {
    for (const rule of [
      'FREQ=DAILY',
      'FREQ=HOURLY;INTERVAL=3',
      'FREQ=WEEKLY;BYDAY=MO,WE,FR',
      'FREQ=MONTHLY;BYDAY=-1FR',
      'FREQ=YEARLY',
    ]) {
      const object = parseCalendarObject(
        event(['DTSTART;TZID=America/New_York:19900102T093000', 'DURATION:PT1H', `RRULE:${rule}`]),
      );
      const budget = new ExpansionBudget(2_000, 1_000);
      const found = [...instances(object, Date.UTC(2026, 0, 1), Date.UTC(2026, 2, 1), { budget })];
      assert.ok(found.length > 0, rule);
    }
  });

  it('finds the same instances from a moved start as from DTSTART, for random rules (seeded)', () => {
    const frequencies = ['SECONDLY', 'MINUTELY', 'HOURLY', 'DAILY', 'WEEKLY', 'MONTHLY', 'YEARLY'] as const;
    const spans: Record<string, number> = {
      SECONDLY: 3_600_000,
      MINUTELY: 86_400_000,
      HOURLY: 20 * 86_400_000,
      DAILY: 400 * 86_400_000,
      WEEKLY: 1500 * 86_400_000,
      MONTHLY: 8000 * 86_400_000,
      YEARLY: 40_000 * 86_400_000,
    };
    const zones = ['UTC', 'Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe'];
    const days = ['MO', 'TU', 'WE', 'TH', 'FR', 'SA', 'SU'];
    for (let seed = 1; seed <= 150; seed++) {
      const r = random(seed);
      const freq = r.pick(frequencies);
      const parts = [`FREQ=${freq}`];
      if (r.chance(0.4)) parts.push(`INTERVAL=${1 + r.int(4)}`);
      if (r.chance(0.4)) parts.push(`BYDAY=${[...new Set([r.pick(days), r.pick(days)])].join(',')}`);
      if (r.chance(0.2) && freq !== 'WEEKLY') parts.push(`BYMONTHDAY=${1 + r.int(28)},${1 + r.int(28)}`);
      if (r.chance(0.2)) parts.push(`BYMONTH=${1 + r.int(12)},${1 + r.int(12)}`);
      if (r.chance(0.2) && ['DAILY', 'WEEKLY', 'MONTHLY'].includes(freq))
        parts.push(`BYHOUR=${r.int(24)},${r.int(24)}`);
      const zone = r.pick(zones);
      const start = Date.UTC(2000 + r.int(20), r.int(12), 1 + r.int(28), r.int(24), r.pick([0, 15, 30]));
      const local = new Date(start).toISOString().replace(/[-:]/g, '').slice(0, 15);
      const lines = [
        zone === 'UTC' ? `DTSTART:${local}Z` : `DTSTART;TZID=${zone}:${local}`,
        `DURATION:PT${1 + r.int(3)}H`,
        `RRULE:${parts.join(';')}`,
      ];
      if (r.chance(0.3))
        lines.push(
          `EXDATE:${new Date(start + 86_400_000 * r.int(2000)).toISOString().replace(/[-:]/g, '').slice(0, 15)}Z`,
        );
      let object: ReturnType<typeof parseCalendarObject>;
      try {
        object = parseCalendarObject(event(lines));
      } catch {
        continue; // a combination ical.js or the budget refuses is not this test's subject
      }
      const rangeStart = start + spans[freq]! * (2 + r.int(8));
      const rangeEnd = rangeStart + spans[freq]! / 4;
      const unbounded = () => new ExpansionBudget(10_000_000, 60_000);
      const near = [...instances(object, rangeStart, rangeEnd, { budget: unbounded() })].map(
        (i) => `${i.start}-${i.end}`,
      );
      const full = [...instances(object, rangeStart, rangeEnd, { budget: unbounded(), fromStart: true })].map(
        (i) => `${i.start}-${i.end}`,
      );
      assert.deepEqual(near, full, `seed ${seed}: ${lines.join(' ')}`);
    }
  });

  it('stays within the budget for random rules, dates and durations (seeded fuzz)', () => {
    const values: Record<string, string[]> = {
      FREQ: ['SECONDLY', 'MINUTELY', 'HOURLY', 'DAILY', 'WEEKLY', 'MONTHLY', 'YEARLY'],
      INTERVAL: ['1', '2', '7', '1000', '99999', '2147483647'],
      COUNT: ['1', '10', '5000', '99999999'],
      UNTIL: ['20260101T000000Z', '99991231T235959Z', '19000101T000000Z'],
      BYMONTH: ['2', '4', '2,4', '12'],
      BYMONTHDAY: ['29', '30', '31', '-31', '1,15', '-1'],
      BYDAY: ['MO', '5FR', '-1SU', '1MO,2TU', '-5MO', '53MO'],
      BYYEARDAY: ['366', '-366', '1', '200'],
      BYWEEKNO: ['53', '-53', '1'],
      BYHOUR: ['0', '23', '9,17'],
      BYMINUTE: ['0', '59'],
      BYSECOND: ['0', '60'],
      BYSETPOS: ['1', '-1', '366', '-1000000'],
    };
    const durations = ['PT1H', 'P1D', 'P99999999999W', 'PT0S', 'P400Y', 'P1W'];
    let slowest = 0;
    for (let seed = 1; seed <= 400; seed++) {
      const r = random(seed);
      const parts = [`FREQ=${r.pick(values.FREQ!)}`];
      for (const [name, options] of Object.entries(values))
        if (name !== 'FREQ' && r.chance(0.25)) parts.push(`${name}=${r.pick(options)}`);
      const lines = [
        r.pick([
          'DTSTART:20260105T100000Z',
          'DTSTART;TZID=Europe/Berlin:20260131T023000',
          'DTSTART;VALUE=DATE:20240229',
        ]),
        `RRULE:${parts.join(';')}`,
      ];
      const duration = r.pick(durations);
      if (!duration.startsWith('P400Y')) lines.push(`DURATION:${duration}`);
      if (r.chance(0.3)) lines.push(`EXDATE:${r.pick(['20260106T100000Z', '20270105T100000Z'])}`);
      if (r.chance(0.3)) lines.push(`RDATE:${r.pick(['20260301T100000Z', '99991231T100000Z'])}`);
      const ms = timed(() => {
        try {
          const object = parseCalendarObject(event(lines));
          for (const _ of instancesWithinBudget(object, Date.UTC(2030, 0, 1), Date.UTC(2031, 0, 1)));
        } catch (error) {
          assert.ok(error instanceof HoldfastError, `seed ${seed}: ${lines.join(' ')} failed with ${String(error)}`);
        }
      });
      slowest = Math.max(slowest, ms);
      assert.ok(ms < 5000, `seed ${seed}: ${lines.join(' ')} took ${ms.toFixed(0)} ms`);
    }
    console.log(`# slowest fuzzed object: ${slowest.toFixed(0)} ms`);
  });
});
