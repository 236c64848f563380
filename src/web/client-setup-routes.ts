// Clients that configure themselves (docs/clients.md, "Automatic setup"):
//
//   GET  /.well-known/autoconfig/mail/config-v1.1.xml   Thunderbird, on https://<domain>/
//   GET  /mail/config-v1.1.xml                          Thunderbird, on autoconfig.<domain>
//   POST /autodiscover/autodiscover.xml (GET too)        Outlook's POX request, on <domain> or autodiscover.<domain>
//   GET  /autodiscover/autodiscover.json/v1.0/<address>  Outlook's JSON v2 ("where is the POX service?")
//   GET  /clients/apple.mobileconfig                     the signed-in user's Apple profile (Basic, over TLS)
//
// What a client may learn without signing in is only what DNS and SMTP tell anyone already: whether
// a domain's mail is served here (its MX says so; RCPT TO accepts it). The answer is the same for every
// address of a served domain, existing or not, and names no tenant; a domain served elsewhere gets 404.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { parseAddress, parseDomain } from '../directory/names.ts';
import { HoldfastError, invalid } from '../errors.ts';
import { checkHttpPassword, parseBasicAuthorization, plainHttpRefusal } from '../net/http-credentials.ts';
import { parseXml, type XmlElement } from '../protocols/dav/xml/dav-xml.ts';
import { principalHref } from '../protocols/dav/dav-resources.ts';
import { loginRequest } from './admin-auth.ts';
import {
  appleProfile,
  autoconfigXml,
  autodiscoverNs,
  autodiscoverXml,
  clientSettings,
  httpsBase,
} from './client-settings.ts';
import type { WebContext } from './web-context.ts';

/** An autodiscover request is a few hundred bytes; anything past this is refused with 413. */
export const maxAutodiscoverBody = 16 * 1024;

const localName = (element: XmlElement) => element.name.slice(element.name.indexOf('}') + 1);
const childNamed = (element: XmlElement | undefined, local: string) =>
  element?.children.find((c) => localName(c) === local);

export function registerClientSetupRoutes(app: FastifyInstance, holdfast: WebContext) {
  const settings = () => clientSettings(holdfast.config);

  /** The domain a request asks about: its address's, else the host it was sent to (autoconfig.<domain>). */
  const requestedDomain = (request: FastifyRequest, address: string | undefined): string | undefined => {
    if (address !== undefined) return addressOf(address).domain;
    const host = request.hostname.replace(/:\d+$/, '').toLowerCase();
    const domain = host.replace(/^(autoconfig|autodiscover)\./, '');
    try {
      return parseDomain(domain);
    } catch {
      return undefined;
    }
  };
  /** Whether mail for the domain is served here (any tenant; the answer never says which). */
  const served = async (domain: string | undefined) =>
    domain !== undefined && (await holdfast.directory.routing.findDomain(domain)) !== undefined;

  const autoconfig = async (request: FastifyRequest, reply: FastifyReply) => {
    const query = request.query as Record<string, string | string[] | undefined>;
    const address = single(query.emailaddress, 'emailaddress');
    const domain = requestedDomain(request, address);
    if (!(await served(domain)))
      return notServed(reply, domain, 'give ?emailaddress= with an address of a domain served here');
    reply.type('application/xml; charset=utf-8').header('Cache-Control', 'max-age=300');
    return autoconfigXml(settings(), domain!);
  };
  app.register(async (scope) => {
    // Outlook sends text/xml; whatever a client calls it, the body is read as text, within the limit.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'string', bodyLimit: maxAutodiscoverBody }, (_request, body, done) =>
      done(null, body),
    );
    scope.setErrorHandler((error: Error & { statusCode?: number; code?: string }, request, reply) => {
      if (error instanceof HoldfastError) return plain(reply, error.httpStatus, error.message);
      if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
        return plain(reply, 413, `an autodiscover request is at most ${maxAutodiscoverBody} bytes`);
      if ((error.statusCode ?? 500) < 500) return plain(reply, error.statusCode!, error.message);
      request.log.error({ err: error }, 'client setup: request failed');
      return plain(reply, 500, 'the request failed; the server log has the cause');
    });

    scope.get('/.well-known/autoconfig/mail/config-v1.1.xml', autoconfig);
    scope.get('/mail/config-v1.1.xml', autoconfig);

    const pox = async (request: FastifyRequest, reply: FastifyReply) => {
      const address =
        request.method === 'POST' ? requestedAddress(String(request.body ?? '')) : queryAddress(request.query);
      const domain = requestedDomain(request, address);
      if (!(await served(domain)))
        return notServed(reply, domain, 'POST an autodiscover request whose EMailAddress is an address served here');
      reply.type('application/xml; charset=utf-8').header('Cache-Control', 'no-store');
      return autodiscoverXml(settings(), address);
    };
    scope.route({ method: ['GET', 'POST'], url: '/autodiscover/autodiscover.xml', handler: pox });
    // Outlook's first request spells it so on Exchange; some try the capitalised path.
    scope.route({ method: ['GET', 'POST'], url: '/Autodiscover/Autodiscover.xml', handler: pox });

    const json = async (request: FastifyRequest<{ Params: { address?: string } }>, reply: FastifyReply) => {
      const query = request.query as Record<string, string | string[] | undefined>;
      const address = request.params.address ?? single(query.Email ?? query.email, 'Email');
      if (address === undefined)
        return jsonError(reply, 400, 'MissingEmail', 'the address is missing: …/v1.0/<address>');
      const protocol = single(query.Protocol ?? query.protocol, 'Protocol');
      if (protocol?.toLowerCase() !== 'autodiscoverv1')
        return jsonError(
          reply,
          400,
          'InvalidProtocol',
          `the Protocol ${protocol === undefined ? 'parameter is missing' : `"${protocol}" is not served`}: supported values are AutodiscoverV1 (IMAP and SMTP; Holdfast serves no EWS or ActiveSync)`,
        );
      const domain = addressOf(address).domain;
      if (!(await served(domain))) return jsonError(reply, 404, 'NotFound', `mail for ${domain} is not served here`);
      const { https } = settings();
      const port = holdfast.config.ports.http;
      const base = https ? httpsBase(https) : `http://${holdfast.config.hostname}${port === 80 ? '' : `:${port}`}`;
      reply.header('Cache-Control', 'no-store');
      return { Protocol: 'AutodiscoverV1', Url: `${base}/autodiscover/autodiscover.xml` };
    };
    scope.get('/autodiscover/autodiscover.json/v1.0/:address', json);
    scope.get('/autodiscover/autodiscover.json', json);

    scope.get('/clients/apple.mobileconfig', async (request, reply) => {
      const credentials = parseBasicAuthorization(request.headers.authorization);
      const login = loginRequest(request);
      const result = !credentials
        ? ({ ok: false, status: 401, message: 'Sign in with your email address and password' } as const)
        : (plainHttpRefusal(login, {
            plaintextLogin: holdfast.config.http.plaintextLogin,
            httpsPort: holdfast.config.ports.https,
          }) ?? (await checkHttpPassword(holdfast.directory, holdfast.logins, login.remoteAddress, credentials)));
      if (!result.ok) {
        if (result.status === 401) reply.header('WWW-Authenticate', 'Basic realm="Holdfast", charset="UTF-8"');
        if ('retryAfterSeconds' in result && result.retryAfterSeconds)
          reply.header('Retry-After', String(result.retryAfterSeconds));
        return plain(reply, result.status, result.message);
      }
      const { principal } = result;
      reply
        .type('application/x-apple-aspen-config')
        .header(
          'Content-Disposition',
          `attachment; filename="${principal.address.replace(/[^\w.@+-]/g, '_')}.mobileconfig"`,
        )
        .header('Cache-Control', 'no-store');
      return appleProfile(settings(), {
        address: principal.address,
        displayName: principal.displayName,
        caldavPrincipalPath: principalHref(principal.address),
      });
    });
  });
}

/** The EMailAddress of a POX request body; a precise 400 for anything else. */
export function requestedAddress(body: string): string {
  if (body.trim() === '')
    throw invalid('bad-autodiscover', 'the request body is empty: expected an autodiscover request with EMailAddress');
  const root = parseXml(body);
  if (localName(root) !== 'Autodiscover')
    throw invalid('bad-autodiscover', `expected Autodiscover as the document element, found ${localName(root)}`);
  const requestElement = childNamed(root, 'Request');
  if (!requestElement) throw invalid('bad-autodiscover', 'the Autodiscover element has no Request');
  const schema = childNamed(requestElement, 'AcceptableResponseSchema')?.text.trim();
  if (schema && schema !== autodiscoverNs.outlook)
    throw invalid(
      'bad-autodiscover',
      `AcceptableResponseSchema ${schema} is not served: only ${autodiscoverNs.outlook} (IMAP and SMTP settings)`,
    );
  const address = childNamed(requestElement, 'EMailAddress')?.text.trim();
  if (!address) throw invalid('bad-autodiscover', 'the Request has no EMailAddress');
  return addressOf(address).address;
}

function addressOf(text: string) {
  try {
    return parseAddress(text);
  } catch {
    throw invalid('bad-address', `"${text.slice(0, 100)}" is not an email address`);
  }
}

function single(value: string | string[] | undefined, name: string): string | undefined {
  if (Array.isArray(value)) throw invalid('bad-query', `the query has ${name} more than once`);
  return value;
}

function queryAddress(query: unknown): string | undefined {
  const q = query as Record<string, string | string[] | undefined>;
  return single(q.email ?? q.emailaddress ?? q.Email, 'email');
}

function plain(reply: FastifyReply, status: number, message: string) {
  return reply.code(status).type('text/plain; charset=utf-8').send(`${message}\n`);
}

function jsonError(reply: FastifyReply, status: number, code: string, message: string) {
  return reply.code(status).send({ ErrorCode: code, ErrorMessage: message });
}

function notServed(reply: FastifyReply, domain: string | undefined, hint: string) {
  return plain(
    reply,
    404,
    domain === undefined ? `no domain asked for: ${hint}` : `mail for ${domain} is not served here`,
  );
}
