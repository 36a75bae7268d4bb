import { Module } from '@nestjs/common';
import { EventStreamsModule } from '#events';
import { SseConnections } from './sse-connections.js';
import { StreamsController } from './streams.controller.js';

@Module({ imports: [EventStreamsModule], controllers: [StreamsController], providers: [SseConnections], exports: [SseConnections] })
export class StreamsModule {}
