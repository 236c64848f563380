// How much one CalDAV request may ask for. Each bound keeps a single request from holding the
// server's one thread or its memory for long: properties named in PROPFIND/REPORT, attendees in a
// free/busy lookup, and instances written out by an expanding REPORT.
import { HoldfastError, invalid } from '../../errors.ts';
import { ExpansionBudget } from '../../calendar/recurrence-budget.ts';
import type { XmlElement } from './xml/dav-xml.ts';

/** Distinct properties one PROPFIND or REPORT may name; clients ask for about 30. */
export const maxRequestedProperties = 200;
/** Distinct attendees one free/busy lookup may name (Exchange caps a meeting's lookup at 100). */
export const maxFreeBusyAttendees = 100;
/** Instances one expanding REPORT may write out, over all its objects. */
export const maxExpandedInstances = 10_000;
/** Iteration steps and time all expansions of one request may take together. */
export const requestExpansionSteps = 100_000;
export const requestExpansionMs = 250;

/** The named properties without repeats, refused past the limit. */
export function limitProperties(children: XmlElement[]): XmlElement[] {
  const distinct = new Map<string, XmlElement>();
  for (const element of children) if (!distinct.has(element.name)) distinct.set(element.name, element);
  if (distinct.size > maxRequestedProperties) {
    throw invalid(
      'too-many-properties',
      `the request names ${distinct.size} different properties; at most ${maxRequestedProperties} are answered in one request`,
    );
  }
  return [...distinct.values()];
}

/** The attendees of a free/busy lookup without repeats, refused past the limit. */
export function limitAttendees(addresses: string[]): string[] {
  const distinct = [...new Set(addresses)];
  if (distinct.length > maxFreeBusyAttendees) {
    throw invalid(
      'valid-calendar-data',
      `the free/busy request names ${distinct.length} attendees; at most ${maxFreeBusyAttendees} are looked up in one request`,
    );
  }
  return distinct;
}

/** One budget shared by every expansion of a request, so many objects cannot add up to a long stall. */
export function requestExpansionBudget(): ExpansionBudget {
  return new ExpansionBudget(requestExpansionSteps, requestExpansionMs);
}

/** The refusal of an expanding REPORT whose answer would be too large or too costly to compute (RFC 4918 §15: 507). */
export function tooManyInstances(reason: string): HoldfastError {
  return new HoldfastError('forbidden', 'number-of-matches-within-limits', `${reason}: ask for a shorter time range`);
}

/** Counts the instances an expanding REPORT writes; refuses the request past the limit. */
export class InstanceAllowance {
  private written = 0;

  take(): void {
    this.written++;
    if (this.written > maxExpandedInstances) {
      throw tooManyInstances(`the expanded answer would hold more than ${maxExpandedInstances} instances`);
    }
  }
}
