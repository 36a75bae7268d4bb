import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Param, ParseUUIDPipe, Post, Query } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import type { Principal } from '#identity';
import { WebhooksService, type WebhookActor } from '#webhooks';
import { Authenticated, CurrentPrincipal, Roles } from '../common/auth.decorators.js';
import { ErrorResponseDto } from '../common/error-response.dto.js';
import { PaginationQueryDto, pageRequest } from '../common/pagination.dto.js';
import {
  CreatedWebhookDto,
  CreateWebhookDto,
  DeliveriesQueryDto,
  DeliveryDto,
  DeliveryPageDto,
  toDeliveryDto,
  toWebhookDto,
  WebhookDto,
  WebhookPageDto,
} from './webhook.dto.js';

const actorOf = (p: Principal): WebhookActor => ({ type: p.kind, id: p.id, userId: p.userId });
const uuid = () => new ParseUUIDPipe();

@ApiTags('webhooks')
@Authenticated()
@Roles()
@ApiNotFoundResponse({ type: ErrorResponseDto, description: 'No such webhook (or delivery) in your organization' })
@Controller('webhooks')
export class WebhooksController {
  constructor(private readonly webhooks: WebhooksService) {}

  @Post()
  @ApiOperation({ summary: 'Subscribe a URL to events; the answer carries the signing secret, shown this once' })
  @ApiCreatedResponse({ type: CreatedWebhookDto })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: 'URL not http(s), with credentials, or unknown event types' })
  async create(@CurrentPrincipal() principal: Principal, @Body() body: CreateWebhookDto): Promise<CreatedWebhookDto> {
    const { subscription, secret } = await this.webhooks.create(principal.organizationId, body, actorOf(principal));
    return { ...toWebhookDto(subscription), secret };
  }

  @Get()
  @ApiOperation({ summary: 'List webhooks (newest first); secrets are never shown' })
  @ApiOkResponse({ type: WebhookPageDto })
  async list(@CurrentPrincipal() principal: Principal, @Query() query: PaginationQueryDto): Promise<WebhookPageDto> {
    const page = await this.webhooks.list(principal.organizationId, pageRequest(query));
    return { ...page, items: page.items.map(toWebhookDto) };
  }

  @Get(':id')
  @ApiOperation({ summary: 'One webhook' })
  @ApiOkResponse({ type: WebhookDto })
  async get(@CurrentPrincipal() principal: Principal, @Param('id', uuid()) id: string): Promise<WebhookDto> {
    return toWebhookDto(await this.webhooks.get(principal.organizationId, id));
  }

  @Delete(':id')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({ summary: 'Delete a webhook and its deliveries (pending ones are not sent)' })
  @ApiNoContentResponse({ description: 'Deleted' })
  async delete(@CurrentPrincipal() principal: Principal, @Param('id', uuid()) id: string): Promise<void> {
    await this.webhooks.delete(principal.organizationId, id, actorOf(principal));
  }

  @Get(':id/deliveries')
  @ApiOperation({ summary: 'Deliveries of a webhook (newest events first), each with its attempts and the answers they got' })
  @ApiOkResponse({ type: DeliveryPageDto })
  async deliveries(
    @CurrentPrincipal() principal: Principal,
    @Param('id', uuid()) id: string,
    @Query() query: DeliveriesQueryDto,
  ): Promise<DeliveryPageDto> {
    const page = await this.webhooks.deliveries(
      principal.organizationId,
      id,
      { status: query.status, eventId: query.eventId },
      pageRequest(query),
    );
    return { ...page, items: page.items.map(toDeliveryDto) };
  }

  @Post(':id/deliveries/:deliveryId/redeliver')
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiOperation({ summary: 'Send a delivery again now with a fresh retry budget (a dead-lettered one, or one the receiver lost)' })
  @ApiAcceptedResponse({ type: DeliveryDto, description: 'Scheduled: the next attempt follows within a second' })
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'The delivery is being sent right now' })
  async redeliver(
    @CurrentPrincipal() principal: Principal,
    @Param('id', uuid()) id: string,
    @Param('deliveryId', uuid()) deliveryId: string,
  ): Promise<DeliveryDto> {
    return toDeliveryDto(await this.webhooks.redeliver(principal.organizationId, id, deliveryId, actorOf(principal)));
  }
}
