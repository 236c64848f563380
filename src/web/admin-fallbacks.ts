// The admin API answers in its documented shape, `{error: {code, message}}` (docs/administration.md,
// "Answers"), also where Fastify answers before any route runs: a body that is not JSON, one too
// large, a path or method the API does not have. Other paths keep Fastify's own answers.
import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** The admin API's paths: under /admin/, which itself is the admin center's page. */
const adminApi = (url: string) => url.startsWith('/admin/') && !/^\/admin\/(\?|$)/.test(url);

/** Fastify's codes for a request it refused, as the admin API's codes. */
const codes: Record<string, string> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid-json',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid-json',
  FST_ERR_CTP_BODY_TOO_LARGE: 'too-large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported-media-type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'bad-request',
};

function answer(reply: FastifyReply, status: number, code: string, message: string) {
  return reply.code(status).header('Cache-Control', 'no-store').send({ error: { code, message } });
}

/** Call on the root instance: scopes with handlers of their own (CalDAV, JMAP) keep them. */
export function registerAdminFallbacks(app: FastifyInstance) {
  app.setErrorHandler((thrown: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    // Something thrown that is no Error would be answered 200 once rethrown: made an Error first.
    const error = thrown instanceof Error ? thrown : (new Error(String(thrown)) as FastifyError);
    // Thrown on, an error goes to Fastify's default handler: every other path answers as before.
    if (!adminApi(request.url)) throw error;
    const status =
      error.statusCode && STATUS_CODES[error.statusCode] && error.statusCode >= 400 ? error.statusCode : 500;
    if (status >= 500) {
      request.log.error({ err: error }, 'admin api: request failed');
      return answer(reply, status, 'internal', 'The request failed on the server; its log says why');
    }
    return answer(
      reply,
      status,
      codes[error.code] ?? STATUS_CODES[status]!.toLowerCase().replace(/ /g, '-'),
      error.message,
    );
  });
  app.setNotFoundHandler((request: FastifyRequest, reply: FastifyReply) => {
    if (!adminApi(request.url))
      return reply
        .code(404)
        .send({ message: `Route ${request.method}:${request.url} not found`, error: 'Not Found', statusCode: 404 });
    const path = new URL(request.url, 'http://placeholder').pathname;
    return answer(
      reply,
      404,
      'not-found',
      `the admin API has no ${request.method} ${path}; see docs/administration.md for its requests`,
    );
  });
}
