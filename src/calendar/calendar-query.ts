// The filters of a CalDAV calendar-query (RFC 4791 §9.7) as plain data, and their evaluation on a
// parsed calendar object. Time ranges are tested against every instance of a recurring object.
import ICAL from 'ical.js';
import type { CalendarObject } from './calendar-object.ts';
import type { ExpansionBudget } from './recurrence-budget.ts';
import { instancesWithinBudget, overlaps, toMs, type TimeRange } from './recurrence.ts';

export type { TimeRange };

export interface TextMatch {
  text: string;
  negate: boolean;
  /** i;ascii-casemap (default) and i;unicode-casemap compare case-insensitively, i;octet exactly. */
  caseSensitive: boolean;
}

export interface ParameterFilter {
  name: string;
  isNotDefined: boolean;
  textMatch?: TextMatch;
}

export interface PropertyFilter {
  name: string;
  isNotDefined: boolean;
  timeRange?: TimeRange;
  textMatch?: TextMatch;
  parameters: ParameterFilter[];
}

export interface ComponentFilter {
  name: string;
  isNotDefined: boolean;
  timeRange?: TimeRange;
  properties: PropertyFilter[];
  components: ComponentFilter[];
}

/** The component kind and time range a query asks for, to narrow candidates in the store. */
export function queryScope(filter: ComponentFilter): { component?: string; range?: TimeRange } {
  const inner =
    filter.components.length === 1 && !filter.components[0]!.isNotDefined ? filter.components[0]! : undefined;
  return { component: inner?.name, range: inner?.timeRange };
}

export function matchesQuery(object: CalendarObject, filter: ComponentFilter, budget?: ExpansionBudget): boolean {
  if (filter.name !== 'VCALENDAR') return false;
  return matchesComponent([object.root], filter, object, budget);
}

function matchesComponent(
  candidates: ICAL.Component[],
  filter: ComponentFilter,
  object: CalendarObject,
  budget: ExpansionBudget | undefined,
): boolean {
  const named = candidates.filter((c) => c.name.toUpperCase() === filter.name);
  if (filter.isNotDefined) return named.length === 0;
  if (named.length === 0) return false;
  // The main component of the object is judged as a whole: its master and overrides form one series.
  if (filter.name === object.component && filter.timeRange) {
    const { start, end } = filter.timeRange;
    if (instancesWithinBudget(object, start, end, { budget }).next().done) return false;
  }
  return named.some(
    (component) =>
      (filter.name === object.component || !filter.timeRange || componentInRange(component, filter.timeRange)) &&
      filter.properties.every((p) => matchesProperty(component, p)) &&
      filter.components.every((c) => matchesComponent(component.getAllSubcomponents(), c, object, budget)),
  );
}

/** Time range on a sub-component such as VALARM: approximated by its own DTSTART/TRIGGER when absolute. */
function componentInRange(component: ICAL.Component, range: TimeRange): boolean {
  const start = component.getFirstPropertyValue('dtstart') ?? component.getFirstPropertyValue('trigger');
  if (!(start instanceof ICAL.Time)) return true;
  return overlaps({ start: toMs(start), end: toMs(start) }, range.start, range.end);
}

function matchesProperty(component: ICAL.Component, filter: PropertyFilter): boolean {
  const properties = component.getAllProperties(filter.name.toLowerCase());
  if (filter.isNotDefined) return properties.length === 0;
  if (properties.length === 0) return false;
  return properties.some((property) => {
    if (filter.timeRange) {
      const value = property.getFirstValue();
      if (
        !(value instanceof ICAL.Time) ||
        !overlaps({ start: toMs(value), end: toMs(value) }, filter.timeRange.start, filter.timeRange.end)
      )
        return false;
    }
    if (filter.textMatch && !textMatches(property.getValues().map(String).join(','), filter.textMatch)) return false;
    return filter.parameters.every((p) => {
      const value = property.getParameter(p.name.toLowerCase());
      if (p.isNotDefined) return value === undefined;
      if (value === undefined) return false;
      return !p.textMatch || textMatches(String(value), p.textMatch);
    });
  });
}

export function textMatches(value: string, match: TextMatch): boolean {
  const found = match.caseSensitive
    ? value.includes(match.text)
    : value.toLowerCase().includes(match.text.toLowerCase());
  return found !== match.negate;
}
