// How much one JMAP request may ask for, advertised in the session's core capability so clients can
// split their work (RFC 8620 2), and enforced: a request over a limit is refused before any method
// runs. Each bound keeps one request from holding the server's thread or its memory for long.

export const jmapLimits = {
  /** Bytes of one upload; the session says the server's message size limit (`[smtp] max_message_size`). */
  maxSizeUpload: 50_000_000,
  /** Uploads of one account running at once (on this node). */
  maxConcurrentUpload: 4,
  /** Bytes of one API request's body. */
  maxSizeRequest: 2_000_000,
  /** Requests of one account running at once (on this node). */
  maxConcurrentRequests: 4,
  maxCallsInRequest: 16,
  maxObjectsInGet: 256,
  maxObjectsInSet: 128,
  collationAlgorithms: ['i;unicode-casemap'],
} as const;

/** Ids one /query answers at most (a larger `limit` is lowered and said so in the answer). */
export const maxQueryLimit = 1000;
/** Changes one /changes answers at most, whatever maxChanges asks. */
export const maxChangesLimit = 5000;
/** Tokens of a result reference's JSON pointer, and values a `*` may gather. */
export const maxPointerTokens = 32;
export const maxReferencedValues = 10_000;
/** Nesting of filter operators (AND/OR/NOT) in one /query. */
export const maxFilterDepth = 10;
/** Bytes of one body value when the client names no maxBodyValueBytes (bounds the answer). */
export const defaultMaxBodyValueBytes = 1_000_000;
