/**
 * The event streams over one WebSocket: `GET /orchestrations/ws` (upgrade). The same events, ids and resume
 * semantics as the SSE endpoints, several subscriptions per socket:
 * - authentication at the upgrade: `Authorization: Bearer <token>` or, for browsers (which cannot set headers on a
 *   WebSocket), `?access_token=<token>`; anything else is answered 401 and the socket is never opened;
 * - client frames (JSON): `{ "action": "subscribe", "id": "s1", "runId"?: "<uuid>", "types"?: "a,b" | [...],
 *   "lastEventId"?: "<event id>" }` (without runId: the whole organization) and `{ "action": "unsubscribe", "id" }`;
 * - server frames: `{ "type": "subscribed", "subscription" }`, `{ "type": "event", "subscription", "id", "event",
 *   "data" }` (data as GET .../events returns it), `{ "type": "end", "subscription" }` after a run's terminal event,
 *   `{ "type": "error", "subscription", "error": { statusCode, error, message, details? } }`;
 * - a client never slows anyone: frames not yet flushed to it are bounded by BATON_SSE_MAX_QUEUE, and one that falls
 *   further behind is closed (code 4008) and resubscribes with the last event id it got; pings every
 *   BATON_SSE_HEARTBEAT_MS keep it open through proxies.
 */
import { Inject, Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { APP_CONFIG, type AppConfig } from '#config';
import { DomainError, isUuid } from '#core';
import {
  OrganizationStreamService,
  parseEventTypeFilter,
  RunStreamHub,
  type EventRecord,
  type EventSink,
  type StreamSubscription,
} from '#events';
import { AuthService, type Principal } from '#identity';
import { isDatabaseBusy, isDatabaseUnavailable } from '#persistence';
import { DATABASE_RETRY_AFTER_S, DATABASE_UNAVAILABLE, errorBody, errorBodyOf } from '../common/domain-exception.filter.js';
import { toEventDto } from '../runs/run.dto.js';

export const STREAM_SOCKET_PATH = '/orchestrations/ws';
/** Close code for a client that fell too far behind (4000-4999: application codes). */
export const SOCKET_TOO_FAR_BEHIND = 4008;
const EVENT_ID = /^\d{1,19}$/;
/** Subscriptions one socket may hold at once (each holds a feed slot and replay state on this instance). */
export const MAX_SUBSCRIPTIONS_PER_SOCKET = 100;

interface SubscribeFrame {
  action: 'subscribe';
  id: string;
  runId?: string;
  types?: string | string[];
  lastEventId?: string;
}

@Injectable()
export class StreamSocketServer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('StreamSocket');
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  /** Sockets closed for falling too far behind, since start (tests, metrics). */
  dropped = 0;

  constructor(
    private readonly adapter: HttpAdapterHost,
    private readonly auth: AuthService,
    private readonly runs: RunStreamHub,
    private readonly organization: OrganizationStreamService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Open stream sockets of this process (metrics). */
  get openSockets(): number {
    return this.wss.clients.size;
  }

  onApplicationBootstrap(): void {
    const server = this.adapter.httpAdapter?.getHttpServer() as Server | undefined;
    server?.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => void this.upgrade(request, socket, head));
  }

  beforeApplicationShutdown(): void {
    for (const client of this.wss.clients) client.close(1001, 'server shutting down; resubscribe with your last event id');
  }

  private async upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://socket');
    if (url.pathname !== STREAM_SOCKET_PATH) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n'); // the only WebSocket endpoint is STREAM_SOCKET_PATH
      return;
    }
    const header = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '')?.[1];
    const token = header ?? url.searchParams.get('access_token') ?? '';
    let principal: Principal;
    try {
      principal = await this.auth.authenticate(token);
    } catch (error) {
      // An outage is not a bad token: a client told 401 would drop its credentials instead of retrying.
      socket.end(
        isDatabaseUnavailable(error) || isDatabaseBusy(error)
          ? `HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: ${DATABASE_RETRY_AFTER_S}\r\nConnection: close\r\n\r\n${JSON.stringify(errorBody(503, DATABASE_UNAVAILABLE))}`
          : 'HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{"statusCode":401,"error":"Unauthorized","message":"Invalid or missing credentials"}',
      );
      return;
    }
    this.wss.handleUpgrade(request, socket, head, (ws) => this.serve(ws, principal));
  }

  private serve(ws: WebSocket, principal: Principal): void {
    const subscriptions = new Map<string, StreamSubscription>();
    /** Subscribe frames still replaying or resolving: they count against the limit and their ids are taken. */
    const opening = new Set<string>();
    let unflushed = 0;
    const frame = (body: unknown) => {
      if (ws.readyState !== ws.OPEN) return;
      if (unflushed >= this.config.sseMaxQueue) {
        this.dropped++;
        ws.close(SOCKET_TOO_FAR_BEHIND, 'too far behind; resubscribe with your last event id');
        return;
      }
      unflushed++;
      ws.send(JSON.stringify(body), () => unflushed--);
    };
    const fail = (subscription: string | null, error: unknown) =>
      frame({ type: 'error', subscription, error: errorBodyOf(error, this.logger) });
    const heartbeat = setInterval(() => ws.ping(), this.config.sseHeartbeatMs);
    heartbeat.unref();
    ws.on('close', () => {
      clearInterval(heartbeat);
      for (const subscription of subscriptions.values()) subscription.close();
      subscriptions.clear();
    });
    ws.on('message', (data: RawData) => {
      let message: unknown;
      try {
        message = JSON.parse(String(data));
      } catch {
        return fail(null, DomainError.validation('Frames are JSON', [{ path: '$', message: 'not JSON' }]));
      }
      const id = (message as { id?: unknown }).id;
      if (typeof id !== 'string' || id.length === 0 || id.length > 100) {
        return fail(
          null,
          DomainError.validation('Every frame names its subscription', [{ path: '$.id', message: 'a string of 1 to 100 characters' }]),
        );
      }
      const action = (message as { action?: unknown }).action;
      if (action === 'unsubscribe') {
        subscriptions.get(id)?.close();
        subscriptions.delete(id);
        return;
      }
      if (action !== 'subscribe')
        return fail(id, DomainError.validation('Unknown action', [{ path: '$.action', message: 'subscribe or unsubscribe' }]));
      if (subscriptions.has(id) || opening.has(id))
        return fail(id, DomainError.conflict(`Subscription ${id} exists; unsubscribe it first`));
      if (subscriptions.size + opening.size >= MAX_SUBSCRIPTIONS_PER_SOCKET) {
        return fail(
          id,
          DomainError.validation(`At most ${MAX_SUBSCRIPTIONS_PER_SOCKET} subscriptions per socket`, [
            { path: '$.id', message: 'unsubscribe another first' },
          ]),
        );
      }
      opening.add(id);
      void this.subscribe(principal, message as SubscribeFrame, (event) => frame(event)).then(
        (subscription) => {
          opening.delete(id);
          if (ws.readyState !== ws.OPEN) return subscription?.close();
          if (subscription) subscriptions.set(id, subscription);
          frame({ type: 'subscribed', subscription: id });
          if (!subscription) frame({ type: 'end', subscription: id }); // the run had already ended after lastEventId
        },
        (error: unknown) => {
          opening.delete(id);
          fail(id, error);
        },
      );
    });
  }

  private async subscribe(
    principal: Principal,
    message: SubscribeFrame,
    frame: (body: unknown) => void,
  ): Promise<StreamSubscription | null> {
    const id = message.id;
    if (message.runId !== undefined && !isUuid(message.runId)) {
      throw DomainError.validation('runId must be a UUID', [{ path: '$.runId', message: 'must be a UUID' }]);
    }
    const lastEventId = message.lastEventId ?? null;
    if (lastEventId !== null && (typeof lastEventId !== 'string' || !EVENT_ID.test(lastEventId))) {
      throw DomainError.validation('lastEventId must be an event id', [{ path: '$.lastEventId', message: 'must be an event id (digits)' }]);
    }
    const filter = parseEventTypeFilter(Array.isArray(message.types) ? message.types.join(',') : message.types);
    const sink: EventSink = {
      send: (event: EventRecord) => frame({ type: 'event', subscription: id, id: event.id, event: event.type, data: toEventDto(event) }),
      end: () => frame({ type: 'end', subscription: id }),
      fail: (error: Error) => frame({ type: 'error', subscription: id, error: errorBodyOf(error, this.logger) }),
    };
    if (message.runId) return this.runs.open(principal.organizationId, message.runId, lastEventId, filter, sink);
    return this.organization.subscribe({
      organizationId: principal.organizationId,
      lastEventId,
      filter,
      sink,
      maxHeld: this.config.sseMaxQueue,
    });
  }
}
