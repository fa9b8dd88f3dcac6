import { type WriteRequest } from '@idsync/contracts';
import { AndFilter, EqualityFilter, type Filter } from 'ldapts';
import { attributeKey } from './attributes';

/** One correlation list turned into a search filter: an AND of equality filters on the request's values. */
export interface CorrelationQuery {
  readonly attributes: readonly string[];
  readonly filter: Filter;
}

/**
 * The request's correlation lists that can be searched, in order. A list is usable only when the request states the
 * full value of every attribute in it (a `replace` with values: an add or delete says nothing about the values that
 * stay); other lists are skipped. Values go into ldapts filter objects, which encode them as BER octet strings:
 * nothing from the request is ever spliced into filter text.
 */
export function correlationQueries(request: WriteRequest): CorrelationQuery[] {
  const known = new Map<string, readonly (string | Buffer)[]>();
  for (const change of request.attributes) {
    if (change.op === 'replace') known.set(attributeKey(change.name), change.values);
  }
  const out: CorrelationQuery[] = [];
  for (const list of request.correlation) {
    if (list.length === 0) continue;
    const filters: Filter[] = [];
    let usable = true;
    for (const name of list) {
      const values = known.get(attributeKey(name));
      if (values === undefined || values.length === 0) {
        usable = false;
        break;
      }
      for (const value of values) filters.push(new EqualityFilter({ attribute: name, value }));
    }
    if (!usable) continue;
    out.push({ attributes: list, filter: filters.length === 1 ? (filters[0] as Filter) : new AndFilter({ filters }) });
  }
  return out;
}
