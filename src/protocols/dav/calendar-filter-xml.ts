// Reads the XML of a calendar-query filter (RFC 4791 §9.7) and of time ranges into the plain
// filter data of calendar/calendar-query.ts, with a precise error for anything malformed.
import type {
  ComponentFilter,
  ParameterFilter,
  PropertyFilter,
  TextMatch,
  TimeRange,
} from '../../calendar/calendar-query.ts';
import { openEnd, openStart } from '../../calendar/recurrence.ts';
import { invalid } from '../../errors.ts';
import { caldav, child, childrenNamed, type XmlElement } from './xml/dav-xml.ts';

export function parseFilter(filter: XmlElement | undefined): ComponentFilter {
  const top = childrenNamed(filter, caldav('comp-filter'));
  if (!filter || top.length !== 1)
    throw invalid(
      'valid-filter',
      'a calendar-query needs a C:filter with exactly one C:comp-filter (name="VCALENDAR")',
    );
  return componentFilter(top[0]!);
}

function componentFilter(element: XmlElement): ComponentFilter {
  return {
    name: requiredName(element),
    isNotDefined: Boolean(child(element, caldav('is-not-defined'))),
    timeRange: optionalTimeRange(element),
    properties: childrenNamed(element, caldav('prop-filter')).map(propertyFilter),
    components: childrenNamed(element, caldav('comp-filter')).map(componentFilter),
  };
}

function propertyFilter(element: XmlElement): PropertyFilter {
  return {
    name: requiredName(element),
    isNotDefined: Boolean(child(element, caldav('is-not-defined'))),
    timeRange: optionalTimeRange(element),
    textMatch: textMatch(child(element, caldav('text-match'))),
    parameters: childrenNamed(element, caldav('param-filter')).map(parameterFilter),
  };
}

function parameterFilter(element: XmlElement): ParameterFilter {
  return {
    name: requiredName(element),
    isNotDefined: Boolean(child(element, caldav('is-not-defined'))),
    textMatch: textMatch(child(element, caldav('text-match'))),
  };
}

const collations = ['i;ascii-casemap', 'i;unicode-casemap', 'i;octet'];

function textMatch(element: XmlElement | undefined): TextMatch | undefined {
  if (!element) return undefined;
  const collation = element.attributes.collation ?? 'i;ascii-casemap';
  if (!collations.includes(collation))
    throw invalid('supported-collation', `collation ${collation} is not supported: use ${collations.join(', ')}`);
  return {
    text: element.text,
    negate: element.attributes['negate-condition'] === 'yes',
    caseSensitive: collation === 'i;octet',
  };
}

function requiredName(element: XmlElement): string {
  const name = element.attributes.name;
  if (!name) throw invalid('valid-filter', `${element.name.replace(/^\{[^}]*\}/, 'C:')} needs a name attribute`);
  return name.toUpperCase();
}

function optionalTimeRange(element: XmlElement): TimeRange | undefined {
  const range = child(element, caldav('time-range'));
  return range ? timeRange(range) : undefined;
}

/** A C:time-range (or C:expand): start and/or end in UTC (`20261101T000000Z`). */
export function timeRange(element: XmlElement): TimeRange {
  const { start, end } = element.attributes;
  if (!start && !end) throw invalid('valid-filter', 'C:time-range needs a start or an end attribute');
  const range = {
    start: start ? utcAttribute('start', start) : openStart,
    end: end ? utcAttribute('end', end) : openEnd,
  };
  if (range.end <= range.start) throw invalid('valid-filter', `C:time-range end ${end} is not after start ${start}`);
  return range;
}

function utcAttribute(name: string, value: string): number {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  const ms = match
    ? Date.UTC(
        Number(match[1]),
        Number(match[2]) - 1,
        Number(match[3]),
        Number(match[4]),
        Number(match[5]),
        Number(match[6]),
      )
    : Number.NaN;
  if (Number.isNaN(ms))
    throw invalid('valid-filter', `time-range ${name}="${value}" is not a UTC date-time like 20261101T000000Z`);
  return ms;
}
