// A bound on the work of recurrence expansion. ical.js looks for a rule's next occurrence in a loop
// that only ends when it finds one, so a rule naming a date that never exists
// (FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30) spins forever inside a single `next()`: counting the occurrences
// found bounds nothing. Instead every step of ical.js's recurrence iterators (one candidate second,
// minute, hour, day, week, month or year) is charged to the budget of the expansion running it, and the
// expansion stops when the budget is spent. A clock check backs the count up for steps that cost more
// than expected.
import ICAL from 'ical.js';

/**
 * Steps (candidate instances) one expansion may take. A step costs 0.3 to 3 µs warm (a DAILY candidate
 * day is the dearest): room for thousands of instances in one query, a leap-day rule's four years of
 * days, and at most some 30 ms spent on a rule that never finds one. ical.js's own search for a YEARLY
 * rule's first year gives up only at the year 20000, some 18,000 steps: such a rule is refused.
 */
export const defaultExpansionSteps = 10_000;
/** Wall-clock time one expansion may take, whatever its steps cost (a cold start costs ten times more per step). */
export const defaultExpansionMs = 100;

/** Thrown when an expansion has spent its budget; ical.js's iterator is unusable afterwards. */
export class ExpansionBudgetSpent extends Error {
  constructor(readonly steps: number) {
    super(`recurrence expansion stopped after ${steps} iteration steps`);
    this.name = 'ExpansionBudgetSpent';
  }
}

export class ExpansionBudget {
  private steps = 0;
  private readonly deadline: number;

  constructor(
    private readonly maxSteps = defaultExpansionSteps,
    maxMs = defaultExpansionMs,
  ) {
    this.deadline = performance.now() + maxMs;
  }

  /** Runs `work` (calls into ical.js's recurrence code) with its iterator steps charged to this budget. */
  run<T>(work: () => T): T {
    const previous = activeBudget;
    activeBudget = this;
    try {
      return work();
    } finally {
      activeBudget = previous;
    }
  }

  spend(): void {
    this.steps++;
    if (this.steps > this.maxSteps || ((this.steps & 255) === 0 && performance.now() > this.deadline)) {
      throw new ExpansionBudgetSpent(this.steps);
    }
  }
}

/** The budget of the expansion running now; ical.js is synchronous, so there is at most one. */
let activeBudget: ExpansionBudget | undefined;

/**
 * The iterator methods that advance by one candidate, and the ones that loop over months and years
 * inside a step (a YEARLY rule's search for a year with a matching day). Charging them all covers
 * every loop of RecurIterator, its constructor's search for the first occurrence included.
 */
const steppingMethods = [
  'next_second',
  'next_minute',
  'next_hour',
  'next_day',
  'next_week',
  'next_month',
  'next_year',
  'increment_month',
  'expand_year_days',
] as const;

/** How deep the charged methods are inside one another right now. */
let nested = 0;

function chargeIteratorSteps(): void {
  const prototype = ICAL.RecurIterator.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const name of steppingMethods) {
    const original = prototype[name];
    if (typeof original !== 'function')
      throw new Error(`ical.js RecurIterator has no ${name}: the recurrence budget cannot be applied`);
    prototype[name] = function charged(this: unknown, ...args: unknown[]) {
      // These methods call each other (next_day asks next_hour, and so on): one candidate is one step.
      if (nested === 0) activeBudget?.spend();
      nested++;
      try {
        return original.apply(this, args);
      } finally {
        nested--;
      }
    };
  }
}

chargeIteratorSteps();
