import { Module } from '@nestjs/common';
import { EngineModule } from '#engine';
import { RunRateLimitGuard } from './run-rate-limit.guard.js';
import { RunsController } from './runs.controller.js';

@Module({ imports: [EngineModule], controllers: [RunsController], providers: [RunRateLimitGuard] })
export class RunsModule {}
