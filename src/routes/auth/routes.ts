/**
 * `/auth/*` (SPEC 4). Two plugins:
 *  - `authFlowRoutes`: sign-up, login, verification, password reset, invitations — no `tenant` header
 *    (login finds the tenant through the directory; one-time tokens carry theirs);
 *  - `authSessionRoutes`: logout, logout-all, me — a tenant area (`withAuth`) like every other.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { AUTHENTICATED } from '../../auth/permissions.ts';
import { type ClientInfo, revokeAllSessions, revokeSession } from '../../auth/sessions.ts';
import { accountDb } from '../../auth/tables.ts';
import { problemResponses } from '../../http/problem.ts';
import {
  Email,
  Lang,
  OneTimeToken,
  Password,
  PersonName,
  PublicUser,
  RoleSummary,
  SessionAnswerSchema,
  TimeZone,
} from './schemas.ts';
import { assertTimeZone } from './validation.ts';

const tags = ['auth'];

export const clientOf = (request: FastifyRequest): ClientInfo => ({
  ip: request.ip,
  userAgent: request.headers['user-agent'],
  host: request.hostname,
});

const RegisterBody = Type.Object(
  {
    company_name: Type.String({ minLength: 1, maxLength: 200, pattern: '\\S' }),
    first_name: PersonName,
    last_name: PersonName,
    email: Email,
    password: Password,
    tos: Type.Literal(true, { description: 'The terms of service were accepted' }),
    tz: Type.Optional(TimeZone),
    lang: Type.Optional(Lang),
  },
  { additionalProperties: false },
);

const TokenPasswordBody = Type.Object(
  { token: OneTimeToken, password: Password },
  { additionalProperties: false },
);

export const authFlowRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const accounts = app.accounts.service;

  app.post(
    '/auth/register',
    {
      schema: {
        operationId: 'auth.register',
        summary: 'Sign up a company and its owner',
        tags,
        body: RegisterBody,
        response: {
          201: Type.Object({
            tenant_id: Type.String(),
            user: PublicUser,
            verification: Type.Literal('sent'),
          }),
          ...problemResponses(400, 409, 422, 429, 503),
        },
      },
    },
    async (request, reply) => {
      assertTimeZone(request.body.tz, '/body/tz');
      const { tos: _tos, ...input } = request.body;
      return reply.code(201).send(await accounts.register(input, clientOf(request)));
    },
  );

  app.post(
    '/auth/login',
    {
      schema: {
        operationId: 'auth.login',
        summary: 'Sign in with e-mail and password',
        tags,
        body: Type.Object(
          {
            email: Email,
            // No minimum here: a wrong password of any length is a 401, not a hint about the rules.
            password: Type.String({ minLength: 1, maxLength: 200 }),
            permanent: Type.Optional(Type.Boolean({ description: '30-day session instead of 1 day' })),
          },
          { additionalProperties: false },
        ),
        response: { 200: SessionAnswerSchema, ...problemResponses(400, 401, 403, 429, 503) },
      },
    },
    async (request) => accounts.login(request.body, clientOf(request)),
  );

  app.post(
    '/auth/verify-email',
    {
      schema: {
        operationId: 'auth.verifyEmail',
        summary: 'Confirm an e-mail address and sign in',
        tags,
        body: Type.Object({ token: OneTimeToken }, { additionalProperties: false }),
        response: { 200: SessionAnswerSchema, ...problemResponses(400, 429, 503) },
      },
    },
    async (request) => accounts.verifyEmail(request.body.token, clientOf(request)),
  );

  app.post(
    '/auth/password-reset/request',
    {
      schema: {
        operationId: 'auth.passwordReset.request',
        summary: 'Ask for a password-reset e-mail (always 202)',
        tags,
        body: Type.Object({ email: Email }, { additionalProperties: false }),
        response: { 202: Type.Object({ status: Type.Literal('accepted') }), ...problemResponses(400, 429) },
      },
    },
    async (request, reply) => {
      await accounts.requestPasswordReset(request.body.email, clientOf(request));
      return reply.code(202).send({ status: 'accepted' as const });
    },
  );

  app.post(
    '/auth/verify-email/resend',
    {
      schema: {
        operationId: 'auth.verifyEmail.resend',
        summary: 'Ask for a new verification e-mail (always 202)',
        tags,
        description:
          'Always 202, whether or not the address has an account. The owner of a company signed up and not yet confirmed gets a new verification e-mail; earlier links stop working.',
        body: Type.Object({ email: Email }, { additionalProperties: false }),
        response: {
          202: Type.Object({ status: Type.Literal('accepted') }),
          ...problemResponses(400, 429, 503),
        },
      },
    },
    async (request, reply) => {
      await accounts.resendVerification(request.body.email, clientOf(request));
      return reply.code(202).send({ status: 'accepted' as const });
    },
  );

  app.post(
    '/auth/password-reset/confirm',
    {
      schema: {
        operationId: 'auth.passwordReset.confirm',
        summary: 'Set a new password from a reset link',
        tags,
        body: TokenPasswordBody,
        response: { 204: Type.Null(), ...problemResponses(400, 422, 429, 503) },
      },
    },
    async (request, reply) => {
      await accounts.confirmPasswordReset(request.body.token, request.body.password, clientOf(request));
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/auth/accept-invite',
    {
      schema: {
        operationId: 'auth.acceptInvite',
        summary: 'Accept an invitation, set a password and sign in',
        tags,
        body: TokenPasswordBody,
        response: { 200: SessionAnswerSchema, ...problemResponses(400, 422, 429, 503) },
      },
    },
    async (request) => accounts.acceptInvite(request.body.token, request.body.password, clientOf(request)),
  );
};

const security = [{ bearer: [], tenant: [] }];

export const authSessionRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/auth/logout',
    {
      config: { permission: AUTHENTICATED },
      schema: {
        operationId: 'auth.logout',
        summary: 'Sign out this session',
        tags,
        security,
        response: { 204: Type.Null(), ...problemResponses(400, 401, 404) },
      },
    },
    async (request, reply) => {
      await revokeSession(accountDb(request.tenant.db), request.session.id);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/auth/logout-all',
    {
      config: { permission: AUTHENTICATED },
      schema: {
        operationId: 'auth.logoutAll',
        summary: 'Sign out every session of the user',
        tags,
        security,
        response: { 200: Type.Object({ revoked: Type.Integer() }), ...problemResponses(400, 401, 404) },
      },
    },
    async (request) => ({
      revoked: await revokeAllSessions(accountDb(request.tenant.db), request.user.id),
    }),
  );

  app.get(
    '/auth/me',
    {
      config: { permission: AUTHENTICATED },
      schema: {
        operationId: 'auth.me',
        summary: 'The signed-in user, role, permissions and session',
        tags,
        security,
        response: {
          200: Type.Object({
            tenant_id: Type.String(),
            user: PublicUser,
            role: RoleSummary,
            permissions: Type.Array(Type.String()),
            session: Type.Object({ expires_at: Type.String({ format: 'date-time' }) }),
          }),
          ...problemResponses(400, 401, 404),
        },
      },
    },
    async (request) => {
      const { id: _id, ...user } = request.user;
      const { id: _roleId, ...role } = request.role;
      return {
        tenant_id: request.tenant.id,
        user,
        role,
        permissions: [...request.permissions].sort(),
        session: { expires_at: request.session.expires_at.toISOString() },
      };
    },
  );
};
