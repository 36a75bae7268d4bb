import { Controller, Get, Headers, Inject, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiProduces, ApiTags, ApiUnauthorizedResponse } from '@nestjs/swagger';
import type { Response } from 'express';
import { APP_CONFIG, type AppConfig } from '#config';
import { DomainError, DomainErrorCode } from '#core';
import { BatonMetrics } from '#observability';
import { Public } from '../common/auth.decorators.js';
import { ErrorResponseDto } from '../common/error-response.dto.js';
import { scrapeTokenMatches } from './metrics-token.js';

/**
 * GET /metrics on the API port, for Prometheus. Not a user endpoint: it answers only the scrape token of
 * BATON_METRICS_TOKEN (user JWTs and API keys are not accepted), and 404 when no token is configured, in which case
 * metrics are served only on the BATON_METRICS_PORT listener.
 */
@ApiTags('metrics')
@Public()
@Controller()
export class MetricsController {
  constructor(
    private readonly metrics: BatonMetrics,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Get('metrics')
  @ApiOperation({ summary: 'Prometheus metrics of this process (text exposition format), for the scrape token of BATON_METRICS_TOKEN' })
  @ApiBearerAuth('metrics-token')
  @ApiProduces('text/plain')
  @ApiOkResponse({ description: 'Prometheus text format 0.0.4', schema: { type: 'string', example: '# HELP baton_ready_steps ...\nbaton_ready_steps{agent="echo"} 3\n' } })
  @ApiUnauthorizedResponse({ description: 'Missing or wrong scrape token', type: ErrorResponseDto })
  @ApiNotFoundResponse({ description: 'BATON_METRICS_TOKEN is not set: scrape the BATON_METRICS_PORT listener instead', type: ErrorResponseDto })
  async scrape(@Headers('authorization') authorization: string | undefined, @Res() response: Response): Promise<void> {
    const token = this.config.metricsToken;
    if (!token) throw new DomainError(DomainErrorCode.NotFound, 'Metrics are not served on the API port: set BATON_METRICS_TOKEN, or scrape BATON_METRICS_PORT');
    if (!scrapeTokenMatches(token, authorization)) throw new DomainError(DomainErrorCode.Unauthenticated, 'Missing or wrong metrics scrape token');
    const { contentType, body } = await this.metrics.exposition();
    response.type(contentType).send(body);
  }
}
