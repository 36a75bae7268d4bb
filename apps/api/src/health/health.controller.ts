import { Controller, Get, HttpCode, HttpStatus, ServiceUnavailableException } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { HealthCheckService } from '@nestjs/terminus';
import { Public } from '../common/auth.decorators.js';
import { ErrorResponseDto } from '../common/error-response.dto.js';
import { ReadinessIndicators } from './readiness.indicators.js';

class HealthDto {
  status: 'ok';
}

type Details = Record<string, { status: string; [key: string]: unknown }>;

const READY_EXAMPLE = {
  status: 'ok',
  database: 'up',
  pendingMigrations: [],
  details: {
    database: { status: 'up', responseMs: 2 },
    migrations: { status: 'up', pending: [] },
    eventTail: { status: 'up', running: true, lagSeconds: 0 },
    worker: { status: 'up', claiming: true, workerId: 'host:123:a1b2c3', staleLeases: 0 },
    breakers: { status: 'up', degraded: false, openBreakers: 0, agents: [], threshold: 3, claimConcurrency: 100 },
  },
};

/** What /ready answers while degraded (docs/observability.md shows it). */
export const DEGRADED_EXAMPLE = {
  status: 'degraded',
  reason: '3 agents have an open circuit breaker (crm-api, billing-api, search-api); claim concurrency lowered to 50%',
  database: 'up',
  pendingMigrations: [],
  details: { ...READY_EXAMPLE.details, breakers: { status: 'up', degraded: true, openBreakers: 3, agents: ['crm-api', 'billing-api', 'search-api'], threshold: 3, claimConcurrency: 50 } },
};

interface ReadyDto {
  /** `degraded`: ready, but circuit breakers open in a burst and this instance claims fewer steps (see `reason`). */
  status: 'ok' | 'degraded';
  reason?: string;
  database: 'up';
  pendingMigrations: string[];
  details: Details;
}

@ApiTags('health')
@Public()
@Controller()
export class HealthController {
  constructor(
    private readonly checks: HealthCheckService,
    private readonly indicators: ReadinessIndicators,
  ) {}

  @Get('health')
  @ApiOperation({ summary: 'Liveness: the process is up' })
  @ApiOkResponse({ schema: { example: { status: 'ok' } } })
  health(): HealthDto {
    return { status: 'ok' };
  }

  @Get('ready')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary:
      'Readiness: the database answers, every migration is applied, the event tail runs (API roles; its lag is reported) and the worker claim loop runs (roles all, worker); `degraded` (still 200) while circuit breakers open in a burst',
  })
  @ApiOkResponse({ schema: { example: READY_EXAMPLE }, description: 'Ready. While circuit breakers open in a burst, `status` is `degraded` with a `reason` (see details.breakers)' })
  @ApiServiceUnavailableResponse({ type: ErrorResponseDto, description: '`details` holds every indicator, with the failing ones `down` and why' })
  async ready(): Promise<ReadyDto> {
    let details: Details;
    try {
      details = (await this.checks.check([() => this.indicators.database(), () => this.indicators.migrations(), () => this.indicators.eventTail(), () => this.indicators.worker(), () => this.indicators.breakers()])).details as Details;
    } catch (error) {
      // terminus answers 503 with every indicator; keep the error shape of the API, the indicators in `details`.
      const response = (error as { getResponse?: () => unknown }).getResponse?.() as { details?: Details } | undefined;
      if (!response?.details) throw error;
      throw new ServiceUnavailableException({ message: this.reason(response.details), details: { ...response.details, pendingMigrations: (response.details.migrations?.pending as string[] | undefined) ?? [] } });
    }
    const breakers = details.breakers;
    if (breakers?.degraded === true) return { status: 'degraded', reason: String(breakers.reason), database: 'up', pendingMigrations: [], details };
    return { status: 'ok', database: 'up', pendingMigrations: [], details };
  }

  private reason(details: Details): string {
    if (details.database?.status === 'down') return 'Database unreachable';
    const down = Object.entries(details).filter(([, d]) => d.status === 'down');
    return down.map(([key, d]) => (typeof d.message === 'string' ? d.message : `${key} down`)).join('; ');
  }
}

