// The two kinds of JMAP error (RFC 8620 3.6): a request-level error refuses the whole request as
// RFC 7807 problem JSON with an HTTP status; a method-level error answers one method call with an
// `error` invocation and the request goes on with the next call.

/** A request-level error: `urn:ietf:params:jmap:error:<type>` with its HTTP status. */
export class JmapRequestError extends Error {
  constructor(
    readonly status: number,
    readonly type: 'unknownCapability' | 'notJSON' | 'notRequest' | 'limit',
    detail: string,
    /** For `limit`: the name of the limit that was passed (maxCallsInRequest, maxSizeRequest...). */
    readonly limit?: string,
  ) {
    super(detail);
  }

  problem(): Record<string, unknown> {
    return {
      type: `urn:ietf:params:jmap:error:${this.type}`,
      status: this.status,
      detail: this.message,
      ...(this.limit ? { limit: this.limit } : {}),
    };
  }
}

/** The method-level error types this server answers (RFC 8620 3.6.2, 5.x; RFC 8621). */
export type MethodErrorType =
  | 'serverUnavailable'
  | 'serverFail'
  | 'unknownMethod'
  | 'invalidArguments'
  | 'invalidResultReference'
  | 'forbidden'
  | 'accountNotFound'
  | 'accountNotSupportedByMethod'
  | 'accountReadOnly'
  | 'requestTooLarge'
  | 'cannotCalculateChanges'
  | 'stateMismatch'
  | 'anchorNotFound'
  | 'unsupportedSort'
  | 'unsupportedFilter'
  | 'tooManyChanges'
  | 'fromAccountNotFound';

/** Thrown by a method; the dispatcher answers `["error", {type, description}, callId]`. */
export class MethodError extends Error {
  constructor(
    readonly type: MethodErrorType,
    description: string,
  ) {
    super(description);
  }

  arguments(): Record<string, unknown> {
    return { type: this.type, description: this.message };
  }
}

export const invalidArguments = (description: string) => new MethodError('invalidArguments', description);
