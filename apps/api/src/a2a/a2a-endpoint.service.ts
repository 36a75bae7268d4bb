/**
 * The HTTP side of the A2A server: who is calling (bearer token; 401 with WWW-Authenticate otherwise), which agent
 * (an active definition of the caller's organization), which wire mapping (A2A-Version), and how the answer goes
 * out (JSON, or Server-Sent Events for the streaming methods). The protocol itself is OrchestrationAgent's; the
 * JSON-RPC parsing and serialization are the SDK's transport handlers'. Nothing here answers HTTP 500: any failure
 * becomes a JSON-RPC error.
 */
import { Inject, Injectable, Logger } from '@nestjs/common';
import { formatSSEErrorEvent, formatSSEEvent, SSE_HEADERS } from '@a2a-js/sdk';
import { JsonRpcTransportHandler, ServerCallContext } from '@a2a-js/sdk/server';
import { LegacyJsonRpcTransportHandler } from '@a2a-js/sdk/compat/v0_3/server';
import { A2A_ERROR_CODE } from '@a2a-js/sdk/errors';
import type { Request, Response } from 'express';
import { RateLimiterRes } from 'rate-limiter-flexible';
import { AgentRunnerRegistry } from '#agents';
import { APP_CONFIG, type AppConfig } from '#config';
import { DomainError } from '#core';
import { ActiveDefinitions, ApprovalQueryService, DefinitionCache, EngineDatabase, RunControlService, RunStarter } from '#engine';
import { RunStreamHub } from '#events';
import { AuthService, type Principal } from '#identity';
import { DefinitionsRepository, OrganizationsRepository, StepsRepository, type OrchestrationDefinitionEntity } from '#persistence';
import { A2aPushTargetsRepository } from '#webhooks';
import { ConversationsService } from '#conversations';
import { ConversationAnswers } from '../conversations/conversation-answers.js';
import { bearerToken } from '../common/auth.guard.js';
import { runCreationLimiter, type RunLimiter } from '../runs/run-rate-limit.guard.js';
import { rateLimited } from './a2a-errors.js';
import { DATABASE_RETRY_AFTER_S, DATABASE_UNAVAILABLE, errorBody } from '../common/domain-exception.filter.js';
import { A2aFaultGuard } from './a2a-fault-guard.js';
import { A2aTaskRepository } from './a2a-task.repository.js';
import { agentCardJson, agentCardOf } from './agent-card.js';
import { parseEnvelope, rpcError, wireVersionOf, type RpcId } from './json-rpc-envelope.js';
import { ABORT_SIGNAL_KEY, acceptsText, OrchestrationAgent, type AgentServices } from './orchestration-agent.js';

const DEFAULT_ORGANIZATION = 'global';

export function baseUrlOf(request: Request): string {
  return `${request.protocol}://${request.get('host') ?? 'localhost'}`;
}

@Injectable()
export class A2aEndpoint {
  private readonly logger = new Logger('A2A');
  private readonly services: AgentServices;

  constructor(
    starter: RunStarter,
    control: RunControlService,
    approvals: ApprovalQueryService,
    registry: AgentRunnerRegistry,
    hub: RunStreamHub,
    tasks: A2aTaskRepository,
    steps: StepsRepository,
    push: A2aPushTargetsRepository,
    db: EngineDatabase,
    conversations: ConversationsService,
    answers: ConversationAnswers,
    private readonly definitionCache: DefinitionCache,
    private readonly definitions: DefinitionsRepository,
    private readonly active: ActiveDefinitions,
    private readonly organizations: OrganizationsRepository,
    private readonly auth: AuthService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.services = {
      starter,
      control,
      approvals,
      registry,
      hub,
      tasks,
      steps,
      definitions: definitionCache,
      push,
      conversations,
      recordAnswer: (organizationId, runId) => answers.recordRun(organizationId, runId),
      allowPrivateNetworks: config.webhookAllowPrivateNetworks,
      consumeStart: startLimit(runCreationLimiter(db, config)),
    };
  }

  // --- cards ---

  /** The organization a card is asked of: the caller's (with a token), else ?organization=<slug> (default global). */
  async cardOrganization(request: Request, response: Response, organizationSlug: string | undefined): Promise<string | null> {
    if (request.headers.authorization) {
      const principal = await this.authenticate(request, response);
      return principal?.organizationId ?? null;
    }
    const organization = await this.organizations.findBySlug(organizationSlug || DEFAULT_ORGANIZATION);
    if (!organization) throw DomainError.notFound('Organization', organizationSlug || DEFAULT_ORGANIZATION);
    return organization.id;
  }

  async agentCard(organizationId: string, slug: string, baseUrl: string): Promise<unknown> {
    const definition = await this.definitions.findLatestActive(organizationId, slug);
    if (!definition) throw DomainError.notFound('Agent', slug);
    return agentCardJson(this.card(definition, baseUrl));
  }

  /** Every active definition of the organization, each with its card. */
  async organizationCard(organizationId: string, baseUrl: string): Promise<{ agents: { slug: string; cardUrl: string; card: unknown }[] }> {
    const page = await this.definitions.findByOrganization(
      organizationId,
      { status: 'active', latestOnly: true },
      { limit: 500, offset: 0 },
    );
    return {
      agents: page.items.map((definition) => ({
        slug: definition.slug,
        cardUrl: `${baseUrl}/a2a/${definition.slug}/.well-known/agent-card.json`,
        card: agentCardJson(this.card(definition, baseUrl)),
      })),
    };
  }

  private card(definition: OrchestrationDefinitionEntity, baseUrl: string) {
    return agentCardOf(definition, {
      url: `${baseUrl}/a2a/${definition.slug}`,
      baseUrl,
      acceptsText: acceptsText(this.definitionCache, definition),
      pushNotifications: true,
    });
  }

  // --- JSON-RPC ---

  async handle(slug: string, request: Request, response: Response): Promise<void> {
    const principal = await this.authenticate(request, response);
    if (!principal) return;
    // The agent is the latest active version, from memory (ActiveDefinitions: dropped when the slug's rows change).
    const definition = await this.active.resolve(principal.organizationId, slug);
    if (!definition) {
      response.status(404).json(errorBody(404, `Agent ${slug} not found`));
      return;
    }
    const envelope = parseEnvelope(request.body);
    if (!envelope.ok) {
      response.status(200).json(envelope.response);
      return;
    }
    const versionHeader =
      request.get('A2A-Version') ?? (typeof request.query['A2A-Version'] === 'string' ? request.query['A2A-Version'] : undefined);
    const version = wireVersionOf(versionHeader);
    if (!version) {
      response
        .status(200)
        .json(
          rpcError(envelope.id, A2A_ERROR_CODE.VERSION_NOT_SUPPORTED, `A2A-Version ${versionHeader} is not supported; supported: 1.0, 0.3`),
        );
      return;
    }
    const abort = new AbortController();
    response.on('close', () => abort.abort());
    const context = new ServerCallContext({
      requestedVersion: version,
      state: new Map<string, unknown>([[ABORT_SIGNAL_KEY, abort.signal]]),
    });
    const guard = new A2aFaultGuard(this.logger);
    const agent = guard.wrap(new OrchestrationAgent(this.services, definition, principal, this.card(definition, baseUrlOf(request))));
    const transport = version === '1.0' ? new JsonRpcTransportHandler(agent) : new LegacyJsonRpcTransportHandler(agent);
    const mapError = (error: unknown) => guard.answerFor(this.errorOf(error, version));
    try {
      const result = await transport.handle(envelope.request, context);
      if (isAsyncIterable(result)) await this.stream(result, envelope.id, response, mapError, guard);
      else if (guard.unavailable) this.unavailable(response);
      else {
        const answer = result as { error?: { code: number; message: string } };
        response.status(200).json(answer.error ? { ...answer, error: guard.answerFor(answer.error) } : result);
      }
    } catch (error) {
      if (!response.headersSent) {
        if (guard.unavailable) this.unavailable(response);
        else response.status(200).json({ jsonrpc: '2.0', id: envelope.id, error: mapError(error) });
      } else if (!response.writableEnded) response.end();
    }
  }

  /** The database failed the request: 503 in the error shape with Retry-After, as every REST route answers. */
  private unavailable(response: Response): void {
    response.setHeader('Retry-After', String(DATABASE_RETRY_AFTER_S));
    response.status(503).json(errorBody(503, DATABASE_UNAVAILABLE));
  }

  /** SSE; an error before the first event is a plain JSON-RPC error answer, as the SDK's Express handler does. */
  private async stream(
    events: AsyncIterable<unknown>,
    id: RpcId,
    response: Response,
    mapError: (e: unknown) => unknown,
    guard: A2aFaultGuard,
  ): Promise<void> {
    const iterator = events[Symbol.asyncIterator]();
    let first: IteratorResult<unknown>;
    try {
      first = await iterator.next();
    } catch (error) {
      if (guard.unavailable) this.unavailable(response);
      else response.status(200).json({ jsonrpc: '2.0', id, error: mapError(error) });
      return;
    }
    response.writeHead(200, SSE_HEADERS);
    response.flushHeaders();
    const heartbeat = setInterval(() => response.write(': ping\n\n'), this.config.sseHeartbeatMs);
    heartbeat.unref();
    try {
      for (let next = first; !next.done; next = await iterator.next()) {
        if (!response.write(formatSSEEvent(next.value))) await new Promise((resolve) => response.once('drain', resolve));
        if (response.writableEnded || response.destroyed) break;
      }
    } catch (error) {
      if (!response.writableEnded) response.write(formatSSEErrorEvent({ jsonrpc: '2.0', id, error: mapError(error) }));
    } finally {
      clearInterval(heartbeat);
      await iterator.return?.(undefined);
      if (!response.writableEnded) response.end();
    }
  }

  /** The JSON-RPC error of a stream's failure (the guard already logged and hid what was ours). */
  private errorOf(error: unknown, version: '1.0' | '0.3'): { code: number; message: string } {
    return version === '1.0' ? JsonRpcTransportHandler.mapToJSONRPCError(error) : LegacyJsonRpcTransportHandler.mapToLegacyJSONRPCError(error);
  }

  /** The caller, or null once a 401 with `WWW-Authenticate: Bearer` has been sent. */
  private async authenticate(request: Request, response: Response): Promise<Principal | null> {
    const token = bearerToken(request);
    let message = 'Missing bearer token';
    if (token) {
      try {
        return await this.auth.authenticate(token);
      } catch (error) {
        if (!(error instanceof DomainError)) throw error;
        message = error.message;
      }
    }
    response.setHeader('WWW-Authenticate', 'Bearer realm="baton"');
    response.status(401).json(errorBody(401, message));
    return null;
  }
}

/** Counts a start against the organization's run creation limit; a reached limit is an A2A error, not an HTTP 429. */
function startLimit(limiter: RunLimiter): (organizationId: string) => Promise<void> {
  return async (organizationId) => {
    try {
      await limiter.consume(organizationId);
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) throw rejection;
      throw rateLimited(Math.ceil(rejection.msBeforeNext / 1000));
    }
  };
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof (value as AsyncIterable<unknown> | null)?.[Symbol.asyncIterator] === 'function';
}
