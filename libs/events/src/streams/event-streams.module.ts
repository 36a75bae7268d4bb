import { Module } from '@nestjs/common';
import { EventStreamRepository } from './event-stream.repository.js';
import { OrganizationStreamService } from './organization-stream.service.js';
import { RunStreamHub } from './run-stream.hub.js';

/** SSE fan-out for API processes (needs the global EventsModule). Workers do not import it. */
@Module({
  providers: [EventStreamRepository, RunStreamHub, OrganizationStreamService],
  exports: [RunStreamHub, OrganizationStreamService],
})
export class EventStreamsModule {}
