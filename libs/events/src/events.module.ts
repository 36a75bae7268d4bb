import { Global, Module } from '@nestjs/common';
import { EventTail } from './event-tail.js';
import { EventTailRepository } from './event-tail.repository.js';
import { PgListener } from './pg-listener.js';

@Global()
@Module({ providers: [PgListener, EventTailRepository, EventTail], exports: [PgListener, EventTailRepository, EventTail] })
export class EventsModule {}
