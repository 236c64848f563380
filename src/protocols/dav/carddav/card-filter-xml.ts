// Reads the XML of an addressbook-query filter (RFC 6352 §10.5) and its limit (§10.6) into the plain
// filter data of contacts/card-query.ts, with a precise error for anything malformed or unsupported.
import {
  matchTypes,
  type CardFilter,
  type CardParameterFilter,
  type CardPropertyFilter,
  type CardTextMatch,
  type MatchType,
} from '../../../contacts/card-query.ts';
import { HoldfastError, invalid } from '../../../errors.ts';
import { carddav, child, childrenNamed, displayName, type XmlElement } from '../xml/dav-xml.ts';

/** Results one addressbook-query returns at most when the client sets no lower limit. */
export const maxQueryResults = 10_000;

export function parseCardFilter(filter: XmlElement | undefined): CardFilter {
  if (!filter) throw invalid('bad-xml', 'an addressbook-query needs a CR:filter (RFC 6352 §8.6)');
  return { allOf: allOf(filter), properties: childrenNamed(filter, carddav('prop-filter')).map(propertyFilter) };
}

/** The CR:limit of a query: the number of results the client wants at most. */
export function parseLimit(root: XmlElement): number | undefined {
  const limit = child(root, carddav('limit'));
  if (!limit) return undefined;
  const text = child(limit, carddav('nresults'))?.text.trim() ?? '';
  if (!/^\d{1,9}$/.test(text) || Number(text) === 0)
    throw invalid('bad-xml', `CR:limit needs a CR:nresults with a positive number, found ${JSON.stringify(text)}`);
  return Number(text);
}

function allOf(element: XmlElement): boolean {
  const test = element.attributes.test ?? 'anyof';
  if (test !== 'anyof' && test !== 'allof')
    throw invalid('bad-xml', `${displayName(element.name)} test="${test}" is not allowed: use anyof or allof`);
  return test === 'allof';
}

function propertyFilter(element: XmlElement): CardPropertyFilter {
  return {
    name: requiredName(element),
    allOf: allOf(element),
    isNotDefined: Boolean(child(element, carddav('is-not-defined'))),
    textMatches: childrenNamed(element, carddav('text-match')).map(textMatch),
    parameters: childrenNamed(element, carddav('param-filter')).map(parameterFilter),
  };
}

function parameterFilter(element: XmlElement): CardParameterFilter {
  const match = child(element, carddav('text-match'));
  return {
    name: requiredName(element),
    isNotDefined: Boolean(child(element, carddav('is-not-defined'))),
    textMatch: match ? textMatch(match) : undefined,
  };
}

const collations = ['i;unicode-casemap', 'i;ascii-casemap', 'i;octet'];

function textMatch(element: XmlElement): CardTextMatch {
  const collation = element.attributes.collation ?? 'i;unicode-casemap';
  if (!collations.includes(collation))
    throw new HoldfastError(
      'forbidden',
      'supported-address-collation',
      `collation ${collation} is not supported: use ${collations.join(', ')}`,
    );
  const matchType = (element.attributes['match-type'] ?? 'contains') as MatchType;
  if (!matchTypes.includes(matchType))
    throw invalid('bad-xml', `match-type="${matchType}" is not allowed: use ${matchTypes.join(', ')}`);
  return {
    text: element.text,
    negate: element.attributes['negate-condition'] === 'yes',
    caseSensitive: collation === 'i;octet',
    matchType,
  };
}

function requiredName(element: XmlElement): string {
  const name = element.attributes.name;
  if (!name) throw invalid('bad-xml', `${displayName(element.name)} needs a name attribute`);
  return name.toUpperCase();
}
