import { Controller, Get, HttpCode, HttpStatus, Inject, ServiceUnavailableException } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import type { DataSource } from 'typeorm';
import { DATA_SOURCE, pendingMigrationNames } from '#persistence';
import { Public } from '../common/auth.decorators.js';
import { ErrorResponseDto } from '../common/error-response.dto.js';

class HealthDto {
  status: 'ok';
}

@ApiTags('health')
@Public()
@Controller()
export class HealthController {
  constructor(@Inject(DATA_SOURCE) private readonly dataSource: DataSource) {}

  @Get('health')
  @ApiOperation({ summary: 'Liveness: the process is up' })
  @ApiOkResponse({ schema: { example: { status: 'ok' } } })
  health(): HealthDto {
    return { status: 'ok' };
  }

  @Get('ready')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({ summary: 'Readiness: the database answers and every migration is applied' })
  @ApiOkResponse({ schema: { example: { status: 'ok', database: 'up', pendingMigrations: [] } } })
  @ApiServiceUnavailableResponse({ type: ErrorResponseDto })
  async ready(): Promise<{ status: 'ok'; database: 'up'; pendingMigrations: string[] }> {
    let pending: string[];
    try {
      await this.dataSource.query('SELECT 1');
      pending = await pendingMigrationNames(this.dataSource);
    } catch {
      throw new ServiceUnavailableException('Database unreachable');
    }
    if (pending.length > 0) {
      throw new ServiceUnavailableException({ message: `Pending migrations: ${pending.join(', ')}`, details: { pendingMigrations: pending } });
    }
    return { status: 'ok', database: 'up', pendingMigrations: [] };
  }
}
