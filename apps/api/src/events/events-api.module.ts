import { Module } from '@nestjs/common';
import { EventHistoryRepository } from '#events';
import { EventsController } from './events.controller.js';

/** GET /orchestrations/events: the organization's event history. */
@Module({ controllers: [EventsController], providers: [EventHistoryRepository] })
export class EventsApiModule {}
