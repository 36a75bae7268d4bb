import { Controller, Get, Query } from '@nestjs/common';
import { ApiBadRequestResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { EventHistoryRepository, parseEventTypeFilter, toEventRecord } from '#events';
import type { Principal } from '#identity';
import { AnyRole, Authenticated, CurrentPrincipal } from '../common/auth.decorators.js';
import { ErrorResponseDto } from '../common/error-response.dto.js';
import { timeRange } from '../audit/time-range.js';
import { pageRequest } from '../common/pagination.dto.js';
import { toEventDto } from '../runs/run.dto.js';
import { EventHistoryPageDto, EventHistoryQueryDto } from './events.dto.js';

@ApiTags('events')
@Authenticated()
@Controller('orchestrations/events')
export class EventsController {
  constructor(private readonly history: EventHistoryRepository) {}

  @Get()
  @AnyRole()
  @ApiOperation({ summary: "The organization's event history, newest first, filtered by time, run, definition and types (`step.*`)" })
  @ApiOkResponse({ type: EventHistoryPageDto })
  @ApiBadRequestResponse({ type: ErrorResponseDto })
  async list(@CurrentPrincipal() principal: Principal, @Query() query: EventHistoryQueryDto): Promise<EventHistoryPageDto> {
    const { from, to } = timeRange(query);
    const types = parseEventTypeFilter(query.types);
    const page = await this.history.search(principal.organizationId, { runId: query.run, definition: query.definition, types: types ? [...types] : null, from, to }, pageRequest(query));
    return { ...page, items: page.items.map((row) => toEventDto(toEventRecord(row))) };
  }
}
