import { Module } from '@nestjs/common';
import { AuditController } from './audit.controller.js';

/** GET /audit. AuditLogRepository comes from DatabaseModule (global). */
@Module({ controllers: [AuditController] })
export class AuditModule {}
