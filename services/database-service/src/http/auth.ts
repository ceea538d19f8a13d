import { timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** 127.0.0.0/8 and ::1, also as IPv4-mapped IPv6. */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return v4 === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}

export interface AuthOptions {
  /** Bearer token for mutating routes; without one they answer only loopback callers. */
  apiToken?: string | undefined;
  /** Without a token, answer anyone who reaches the port. */
  allowUnauthenticated?: boolean;
}

/** The onRequest hook every mutating route carries. */
export function tokenGuard(deps: AuthOptions) {
  return function requireToken(request: FastifyRequest, reply: FastifyReply, done: () => void): void {
    if (!deps.apiToken) {
      if (deps.allowUnauthenticated || isLoopback(request.socket.remoteAddress ?? request.ip)) {
        done();
        return;
      }
      void reply.code(403).send({
        statusCode: 403,
        error: 'Forbidden',
        message:
          'without API_TOKEN, mutating routes answer only on loopback; set API_TOKEN (or service.allow_unauthenticated: true)',
      });
      return;
    }
    const header = request.headers.authorization ?? '';
    const given = Buffer.from(header.startsWith('Bearer ') ? header.slice(7) : '');
    const expected = Buffer.from(deps.apiToken);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      void reply
        .code(401)
        .header('www-authenticate', 'Bearer')
        .send({ statusCode: 401, error: 'Unauthorized', message: 'a valid bearer token is required' });
      return;
    }
    done();
  };
}
