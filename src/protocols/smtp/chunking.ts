// CHUNKING (RFC 3030): the BDAT command, which smtp-server (3.21.6) lacks, added to its connection
// and stream parser classes.
//
//   BDAT <size> [LAST]   followed by exactly <size> octets, no dot-stuffing, no terminator
//
// The chunks of one message are written into one stream that is handed to the server's onData
// handler at the first chunk, exactly as DATA hands over its stream; every chunk but the last is
// answered `250 2.0.0 <n> octets received`, the last with onData's verdict. Whatever a BDAT's
// outcome, its octets are read and never taken for commands: a refused chunk is read and
// discarded, so its content cannot smuggle commands into the session. A size that cannot be parsed
// leaves no way to find the next command, so it ends the connection.
import { PassThrough } from 'node:stream';
import { SMTPConnection } from 'smtp-server/lib/smtp-connection';
import { SMTPStream } from 'smtp-server/lib/smtp-stream';

type Reply = [code: number, text: string];

/** One message being received in chunks. */
interface ChunkedMessage {
  stream: PassThrough;
  bytes: number;
  /** onData's verdict, once it has called back. */
  verdict: Promise<Reply>;
}

/** The chunk being read by the parser. */
interface ChunkRead {
  remaining: number;
  /** Where the octets go; undefined discards them. */
  sink?: PassThrough;
  onComplete: (resume: () => void) => void;
}

interface ParserInternals {
  _dataMode: boolean;
  _chunkRead?: ChunkRead;
  _write(chunk: Buffer, encoding: string, done: (error?: Error) => void): void;
  _feedDataStream(chunk: Buffer, done: (error?: Error) => void): void;
}

interface ConnectionInternals {
  _parser: ParserInternals | false;
  _chunked?: ChunkedMessage;
  _transactionCounter: number;
  _unrecognizedCommands: number;
  _server: {
    options: { size?: number };
    onData(stream: PassThrough, session: unknown, callback: (error: (Error & { responseCode?: number }) | null, message?: unknown) => void): void;
  };
  session: { envelope: { rcptTo: unknown[] } };
  send(code: number, data: unknown, context?: unknown): void;
  close(): void;
  _resetSession(): void;
  _onClose(): void;
  handler_EHLO(command: Buffer, callback: () => void): void;
  handler_DATA(command: Buffer, callback: () => void): void;
  handler_BDAT(command: Buffer, callback: () => void): void;
}

const bdatSyntax = /^BDAT +(\d{1,15})( +LAST)? *$/i;

export function addChunking() {
  patchParser(SMTPStream.prototype as unknown as ParserInternals);
  patchConnection(SMTPConnection.prototype as unknown as ConnectionInternals);
}

/** Teaches the parser to read a counted number of octets as they are. */
function patchParser(parser: ParserInternals) {
  const feedDataStream = parser._feedDataStream;
  parser._feedDataStream = function (this: ParserInternals, chunk, done) {
    const read = this._chunkRead;
    if (!read) return feedDataStream.call(this, chunk, done);
    const taken = chunk.subarray(0, read.remaining);
    const rest = chunk.subarray(taken.length);
    read.remaining -= taken.length;
    const afterWrite = () => {
      if (read.remaining > 0) return done();
      this._chunkRead = undefined;
      this._dataMode = false;
      read.onComplete(() => (rest.length ? this._write(rest, 'buffer', done) : done()));
    };
    if (read.sink?.writable && !read.sink.write(taken)) read.sink.once('drain', afterWrite);
    else afterWrite();
  };
}

function patchConnection(connection: ConnectionInternals) {
  const ehlo = connection.handler_EHLO;
  connection.handler_EHLO = function (this: ConnectionInternals, command, callback) {
    const send = this.send;
    this.send = (code, data, context) => send.call(this, code, code === 250 && Array.isArray(data) ? [...data, 'CHUNKING'] : data, context);
    try {
      ehlo.call(this, command, callback);
    } finally {
      Reflect.deleteProperty(this, 'send'); // back to the prototype's
    }
  };

  const data = connection.handler_DATA;
  connection.handler_DATA = function (this: ConnectionInternals, command, callback) {
    // RFC 3030 section 3: DATA and BDAT do not mix within one transaction.
    if (this._chunked) {
      this.send(503, '5.5.1 DATA is not allowed after BDAT in the same transaction');
      return callback();
    }
    data.call(this, command, callback);
  };

  const resetSession = connection._resetSession;
  connection._resetSession = function (this: ConnectionInternals) {
    abandon(this);
    resetSession.call(this);
  };

  const onClose = connection._onClose;
  connection._onClose = function (this: ConnectionInternals) {
    abandon(this);
    onClose.call(this);
  };

  connection.handler_BDAT = function (this: ConnectionInternals, command, callback) {
    const parser = this._parser;
    if (!parser) return callback();
    const match = bdatSyntax.exec(command.toString().trim());
    if (!match) {
      // Without a size there is no telling where the chunk ends and the next command begins.
      this.send(501, '5.5.4 Syntax: BDAT <size> [LAST]; closing the connection, the chunk cannot be skipped');
      this.close();
      return callback();
    }
    const size = Number(match[1]);
    const last = Boolean(match[2]);
    const refusal = this.session.envelope.rcptTo.length ? null : ([503, '5.5.1 Error: need RCPT command'] as Reply);
    const message = refusal ? undefined : (this._chunked ??= startMessage(this));
    const limit = Number(this._server.options.size) || Infinity;
    if (message) message.bytes += size;
    // A message already over the size limit is refused now rather than after all of it arrived.
    const oversized = message && message.bytes > limit ? ([552, `5.3.4 Message size exceeds fixed maximum message size (${limit} bytes)`] as Reply) : null;
    const sink = refusal || oversized ? undefined : message?.stream;

    const onComplete = (resume: () => void) => {
      if (refusal || oversized) {
        this.send(...(refusal ?? oversized!));
        if (oversized) this._resetSession();
        return resume();
      }
      if (!last) {
        this.send(250, `2.0.0 ${size} octets received`);
        return resume();
      }
      message!.stream.end();
      void message!.verdict.then((reply) => {
        this._chunked = undefined; // answered: the reset below must not abandon it
        this.send(...reply);
        this._transactionCounter++;
        this._unrecognizedCommands = 0;
        this._resetSession();
        resume();
      });
    };
    if (size === 0) return onComplete(callback);
    parser._chunkRead = { remaining: size, sink, onComplete };
    parser._dataMode = true;
    callback();
  };
}

/** Hands a new message stream to onData, as DATA does, and keeps its verdict for the last chunk. */
function startMessage(connection: ConnectionInternals): ChunkedMessage {
  const stream = new PassThrough();
  const verdict = new Promise<Reply>((resolve) => {
    connection._server.onData(stream, connection.session, (error, message) => {
      const reply: Reply = error ? [error.responseCode ?? 450, error.message] : [250, typeof message === 'string' ? message : 'OK: message queued'];
      // The reply waits until every chunk was read, as DATA's waits for the end of the data.
      if (stream.readableEnded || stream.destroyed) return resolve(reply);
      stream.once('end', () => resolve(reply));
      stream.once('close', () => resolve(reply));
      if (stream.readableFlowing === null) stream.resume();
    });
  });
  return { stream, bytes: 0, verdict };
}

/** A transaction given up before its last chunk (RSET, a new EHLO, a closed connection). */
function abandon(connection: ConnectionInternals) {
  const message = connection._chunked;
  if (!message) return;
  connection._chunked = undefined;
  if (!message.stream.writableEnded && !message.stream.destroyed) {
    const error = Object.assign(new Error('The BDAT transaction ended before its last chunk'), { code: 'ECONNECTION' });
    message.stream.destroy(message.stream.listenerCount('error') ? error : undefined);
  }
}
