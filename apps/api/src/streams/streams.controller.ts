import { Controller, Get, HttpStatus, Inject, Param, ParseUUIDPipe, Query, Req, Res } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiExtraModels,
  ApiHeader,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiTags,
  getSchemaPath,
} from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { APP_CONFIG, type AppConfig } from '#config';
import { DomainError } from '#core';
import { OrganizationStreamService, parseEventTypeFilter, RunStreamHub, type StreamSubscription } from '#events';
import type { Principal } from '#identity';
import { AnyRole, Authenticated, CurrentPrincipal } from '../common/auth.decorators.js';
import { ErrorResponseDto } from '../common/error-response.dto.js';
import { SseConnections } from './sse-connections.js';
import type { SseConnection } from './sse-connection.js';
import { SSE_FORMAT_DOC, StreamEventDto, StreamQueryDto } from './stream.dto.js';

const MAX_EVENT_ID = 2n ** 63n - 1n;

/** Last-Event-ID from the header (what EventSource sends on reconnect) or else from `?lastEventId=`. */
function lastEventIdOf(request: Request, query: StreamQueryDto): string | null {
  const header = request.headers['last-event-id'];
  const value = (Array.isArray(header) ? header[0] : header)?.trim() || query.lastEventId || null;
  if (value !== null && (!/^\d{1,19}$/.test(value) || BigInt(value) > MAX_EVENT_ID))
    throw DomainError.validation('Last-Event-ID must be an event id', [{ path: '$.lastEventId', message: 'must be an event id (digits)' }]);
  return value;
}

const streamResponse = { 'text/event-stream': { schema: { $ref: getSchemaPath(StreamEventDto) } } };

@ApiTags('streams')
@Authenticated()
@AnyRole()
@ApiExtraModels(StreamEventDto)
@ApiProduces('text/event-stream')
@ApiHeader({ name: 'Last-Event-ID', required: false, description: 'Resume right after this event id (sent by EventSource on reconnect)' })
@ApiBadRequestResponse({
  type: ErrorResponseDto,
  description: 'Unknown event type in `types`, or a Last-Event-ID that is not an event of this stream',
})
@Controller('orchestrations')
export class StreamsController {
  constructor(
    private readonly runs: RunStreamHub,
    private readonly organization: OrganizationStreamService,
    private readonly connections: SseConnections,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Get('runs/:id/stream')
  @ApiOperation({ summary: "Server-Sent Events of one run, in order; ends after the run's terminal event", description: SSE_FORMAT_DOC })
  @ApiOkResponse({ description: 'The event stream (each message carries one event; see the description)', content: streamResponse })
  @ApiNoContentResponse({
    description: 'The run finished and Last-Event-ID is its terminal event: nothing more will come (EventSource stops reconnecting)',
  })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'No such run in your organization' })
  async runStream(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Query() query: StreamQueryDto,
    @Req() request: Request,
    @Res() response: Response,
  ): Promise<void> {
    const filter = parseEventTypeFilter(query.types);
    const lastEventId = lastEventIdOf(request, query);
    const opened = await this.open(response, (sink) => this.runs.open(principal.organizationId, id, lastEventId, filter, sink));
    if (!opened) response.status(HttpStatus.NO_CONTENT).end();
  }

  @Get('stream')
  @ApiOperation({
    summary: 'Server-Sent Events of the whole organization (filter with `types`); never ends by itself',
    description: SSE_FORMAT_DOC,
  })
  @ApiOkResponse({ description: 'The event stream (each message carries one event; see the description)', content: streamResponse })
  async organizationStream(
    @CurrentPrincipal() principal: Principal,
    @Query() query: StreamQueryDto,
    @Req() request: Request,
    @Res() response: Response,
  ): Promise<void> {
    const filter = parseEventTypeFilter(query.types);
    const lastEventId = lastEventIdOf(request, query);
    await this.open(response, (sink) =>
      this.organization.subscribe({
        organizationId: principal.organizationId,
        lastEventId,
        filter,
        sink,
        maxHeld: this.config.sseMaxQueue,
      }),
    );
  }

  /** Opens the subscription, then the response; an error before that is answered as JSON by the exception filter. */
  private async open(response: Response, subscribe: (sink: SseConnection) => Promise<StreamSubscription | null>): Promise<boolean> {
    const connection = this.connections.create(response);
    let subscription: StreamSubscription | null;
    try {
      subscription = await subscribe(connection);
    } catch (error) {
      connection.discard();
      throw error;
    }
    if (!subscription) {
      connection.discard();
      return false;
    }
    connection.attach(subscription);
    connection.start();
    return true;
  }
}
