// The JMAP API request (RFC 8620 3.3-3.7) apart from HTTP and from any data: parsing and checking the
// request object, running its method calls in order, and resolving the result references (`#name`
// arguments) of each call against the responses before it. Pure but for the methods it calls.
import { JmapRequestError, MethodError } from './jmap-errors.ts';
import { jmapLimits, maxPointerTokens, maxReferencedValues } from './jmap-limits.ts';
import { CreationIds } from './creation-ids.ts';

export const coreCapability = 'urn:ietf:params:jmap:core';
export const mailCapability = 'urn:ietf:params:jmap:mail';
export const vacationResponseCapability = 'urn:ietf:params:jmap:vacationresponse';

export type Invocation = [name: string, args: Record<string, unknown>, callId: string];

/**
 * A method's result may carry responses of implicit calls under this key (RFC 8621 7.5:
 * EmailSubmission/set's onSuccessUpdateEmail answers an Email/set with the same call id after it).
 */
export const implicitResponses = Symbol('implicitResponses');
export type WithImplicitResponses = Record<string, unknown> & {
  [implicitResponses]?: [name: string, args: Record<string, unknown>][];
};

export interface JmapApiRequest {
  using: string[];
  methodCalls: Invocation[];
  createdIds?: Record<string, string>;
}

export interface JmapMethod<C> {
  /** The capability the request's `using` must name for this method to be known. */
  capability: string;
  run(args: Record<string, unknown>, context: C): Promise<Record<string, unknown>>;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The request in `body`, checked; a JmapRequestError (problem JSON, 400) when it is not one. */
export function parseApiRequest(body: string, capabilities: ReadonlySet<string>): JmapApiRequest {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new JmapRequestError(400, 'notJSON', 'The request body is not JSON (RFC 8259) in UTF-8');
  }
  if (!isObject(parsed)) throw new JmapRequestError(400, 'notRequest', 'The request is not a JSON object');
  const { using, methodCalls, createdIds } = parsed;
  if (!Array.isArray(using) || !using.every((u) => typeof u === 'string'))
    throw new JmapRequestError(400, 'notRequest', '"using" must be an array of capability strings');
  if (!Array.isArray(methodCalls))
    throw new JmapRequestError(400, 'notRequest', '"methodCalls" must be an array of invocations');
  if (
    createdIds !== undefined &&
    (!isObject(createdIds) || !Object.values(createdIds).every((v) => typeof v === 'string'))
  )
    throw new JmapRequestError(400, 'notRequest', '"createdIds" must map creation ids to ids');
  if (methodCalls.length > jmapLimits.maxCallsInRequest)
    throw new JmapRequestError(
      400,
      'limit',
      `The request makes ${methodCalls.length} method calls; at most ${jmapLimits.maxCallsInRequest} are run in one request`,
      'maxCallsInRequest',
    );
  for (const call of methodCalls) {
    if (
      !Array.isArray(call) ||
      call.length !== 3 ||
      typeof call[0] !== 'string' ||
      !isObject(call[1]) ||
      typeof call[2] !== 'string'
    )
      throw new JmapRequestError(
        400,
        'notRequest',
        'Each method call must be [name (string), arguments (object), method call id (string)]',
      );
  }
  const unknown = (using as string[]).filter((u) => !capabilities.has(u));
  if (unknown.length)
    throw new JmapRequestError(400, 'unknownCapability', `This server does not support ${unknown.join(', ')}`);
  return {
    using: using as string[],
    methodCalls: methodCalls as Invocation[],
    ...(createdIds ? { createdIds: createdIds as Record<string, string> } : {}),
  };
}

/**
 * Runs the calls in order; a failing call answers an `error` invocation and the next call runs.
 * Ids created by a call stand in for `#creationId` in the calls after it (creation-ids.ts); the
 * request's own `createdIds`, when given, gets every id created added, to be answered (RFC 8620 3.4).
 */
export async function runApiRequest<C>(
  request: JmapApiRequest,
  methods: ReadonlyMap<string, JmapMethod<C>>,
  context: C,
  onFailure: (error: unknown, method: string) => void,
): Promise<Invocation[]> {
  const responses: Invocation[] = [];
  const using = new Set(request.using);
  const creations = new CreationIds(request.createdIds);
  for (const [name, args, callId] of request.methodCalls) {
    try {
      const method = methods.get(name);
      if (!method || !using.has(method.capability))
        throw new MethodError(
          'unknownMethod',
          method ? `${name} needs ${method.capability} in "using"` : `${name} is not a method this server answers`,
        );
      const result: WithImplicitResponses = await method.run(
        creations.resolve(resolveReferences(args, responses)),
        context,
      );
      responses.push([name, result, callId]);
      creations.record(result);
      for (const [implicitName, implicitResult] of result[implicitResponses] ?? []) {
        responses.push([implicitName, implicitResult, callId]);
        creations.record(implicitResult);
      }
    } catch (error) {
      if (error instanceof MethodError) {
        responses.push(['error', error.arguments(), callId]);
        continue;
      }
      onFailure(error, name);
      responses.push(['error', { type: 'serverFail', description: 'The method failed on the server' }, callId]);
    }
  }
  if (request.createdIds) Object.assign(request.createdIds, creations.toObject());
  return responses;
}

/** The arguments with each `#name` result reference replaced by `name` and the value it points to (RFC 8620 3.7). */
export function resolveReferences(args: Record<string, unknown>, responses: Invocation[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(args)) {
    if (!key.startsWith('#')) {
      out[key] = value;
      continue;
    }
    const name = key.slice(1);
    if (Object.hasOwn(args, name))
      throw new MethodError('invalidArguments', `"${name}" is given both as a value and as a result reference`);
    if (
      !isObject(value) ||
      typeof value.resultOf !== 'string' ||
      typeof value.name !== 'string' ||
      typeof value.path !== 'string'
    )
      throw new MethodError('invalidResultReference', `"${key}" must be a ResultReference {resultOf, name, path}`);
    const response = responses.find(([, , callId]) => callId === value.resultOf);
    if (!response)
      throw new MethodError('invalidResultReference', `no earlier method call has the id "${value.resultOf}"`);
    if (response[0] !== value.name)
      throw new MethodError(
        'invalidResultReference',
        `the call "${value.resultOf}" answered ${response[0]}, not ${value.name}`,
      );
    out[name] = evaluatePointer(response[1], value.path);
  }
  return out;
}

/**
 * A JSON Pointer (RFC 6901) with JMAP's `*` (RFC 8620 3.7): over an array, the rest of the pointer is
 * applied to each item and arrays among the results are flattened into one.
 */
export function evaluatePointer(document: unknown, path: string): unknown {
  if (path === '') return document;
  if (!path.startsWith('/')) throw new MethodError('invalidResultReference', `the path "${path}" must start with /`);
  const tokens = path
    .slice(1)
    .split('/')
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (tokens.length > maxPointerTokens)
    throw new MethodError('invalidResultReference', `the path has more than ${maxPointerTokens} parts`);
  const budget = { values: 0 };
  const walk = (value: unknown, at: number): unknown => {
    if (at === tokens.length) return value;
    const token = tokens[at]!;
    if (Array.isArray(value)) {
      if (token === '*') {
        const out: unknown[] = [];
        for (const item of value) {
          const found = walk(item, at + 1);
          if (Array.isArray(found)) out.push(...found);
          else out.push(found);
          budget.values += Array.isArray(found) ? found.length : 1;
          if (budget.values > maxReferencedValues)
            throw new MethodError('invalidResultReference', `the path gathers more than ${maxReferencedValues} values`);
        }
        return out;
      }
      if (!/^(0|[1-9][0-9]*)$/.test(token) || Number(token) >= value.length)
        throw new MethodError(
          'invalidResultReference',
          `the path has no item "${token}" in an array of ${value.length}`,
        );
      return walk(value[Number(token)], at + 1);
    }
    if (isObject(value) && Object.hasOwn(value, token)) return walk(value[token], at + 1);
    throw new MethodError('invalidResultReference', `the path "${path}" does not lead to a value at "${token}"`);
  };
  return walk(document, 0);
}
