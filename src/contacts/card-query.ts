// The filter of a CardDAV addressbook-query (RFC 6352 §10.5) as plain data, and its evaluation on
// the properties a card stores for it (vcard.ts `CardProperty`), without parsing the vCard again.
import type { TextMatch as CalendarTextMatch } from '../calendar/calendar-query.ts';
import type { CardProperty } from './vcard.ts';

export type MatchType = 'equals' | 'contains' | 'starts-with' | 'ends-with';
export const matchTypes: MatchType[] = ['equals', 'contains', 'starts-with', 'ends-with'];

export interface CardTextMatch extends CalendarTextMatch {
  matchType: MatchType;
}

export interface CardParameterFilter {
  name: string;
  isNotDefined: boolean;
  textMatch?: CardTextMatch;
}

export interface CardPropertyFilter {
  name: string;
  /** allof: every test must hold; anyof (the default): one is enough. */
  allOf: boolean;
  isNotDefined: boolean;
  textMatches: CardTextMatch[];
  parameters: CardParameterFilter[];
}

export interface CardFilter {
  allOf: boolean;
  properties: CardPropertyFilter[];
}

/** Whether a card's properties pass the filter; a filter without prop-filters passes every card. */
export function matchesCardFilter(properties: CardProperty[], filter: CardFilter): boolean {
  if (filter.properties.length === 0) return true;
  const test = (p: CardPropertyFilter) => propertyMatches(properties, p);
  return filter.allOf ? filter.properties.every(test) : filter.properties.some(test);
}

function propertyMatches(properties: CardProperty[], filter: CardPropertyFilter): boolean {
  const found = properties.filter(([name]) => name === filter.name);
  if (filter.isNotDefined) return found.length === 0;
  if (found.length === 0) return false;
  const tests = [
    ...filter.textMatches.map((match) => () => found.some(([, value]) => textMatches(value, match))),
    ...filter.parameters.map((param) => () => found.some(([, , params]) => parameterMatches(params, param))),
  ];
  if (tests.length === 0) return true;
  return filter.allOf ? tests.every((t) => t()) : tests.some((t) => t());
}

function parameterMatches(params: Record<string, string[]>, filter: CardParameterFilter): boolean {
  const values = params[filter.name];
  if (filter.isNotDefined) return values === undefined;
  if (values === undefined) return false;
  const match = filter.textMatch;
  return !match || values.some((value) => textMatches(value, match));
}

/** i;unicode-casemap (the default) and i;ascii-casemap compare case-insensitively, i;octet exactly. */
export function textMatches(value: string, match: CardTextMatch): boolean {
  const subject = match.caseSensitive ? value : value.toLowerCase();
  const text = match.caseSensitive ? match.text : match.text.toLowerCase();
  let found: boolean;
  switch (match.matchType) {
    case 'equals':
      found = subject === text;
      break;
    case 'starts-with':
      found = subject.startsWith(text);
      break;
    case 'ends-with':
      found = subject.endsWith(text);
      break;
    default:
      found = subject.includes(text);
  }
  return found !== match.negate;
}
