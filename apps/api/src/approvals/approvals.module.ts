import { Module } from '@nestjs/common';
import { EngineModule } from '#engine';
import { ApprovalsController } from './approvals.controller.js';

@Module({ imports: [EngineModule], controllers: [ApprovalsController] })
export class ApprovalsModule {}
