import { Module } from '@nestjs/common';
import { EventHistoryRepository, EventRetentionRepository } from '#events';
import { EventRetentionJob } from './event-retention.job.js';
import { EventsController } from './events.controller.js';

/** GET /orchestrations/events: the organization's event history. */
@Module({ controllers: [EventsController], providers: [EventHistoryRepository, EventRetentionRepository, EventRetentionJob] })
export class EventsApiModule {}

/** Worker-only processes: the retention job, no routes. */
@Module({ providers: [EventRetentionRepository, EventRetentionJob] })
export class EventRetentionModule {}
