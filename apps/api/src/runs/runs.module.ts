import { Module } from '@nestjs/common';
import { EngineModule } from '#engine';
import { ConversationsApiModule } from '../conversations/conversations-api.module.js';
import { RunRateLimitGuard } from './run-rate-limit.guard.js';
import { RunsController } from './runs.controller.js';

@Module({ imports: [EngineModule, ConversationsApiModule], controllers: [RunsController], providers: [RunRateLimitGuard] })
export class RunsModule {}
