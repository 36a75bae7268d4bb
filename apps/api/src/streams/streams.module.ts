import { Module } from '@nestjs/common';
import { EventStreamsModule } from '#events';
import { SseConnections } from './sse-connections.js';
import { StreamSocketServer } from './stream-socket.js';
import { StreamsController } from './streams.controller.js';

@Module({
  imports: [EventStreamsModule],
  controllers: [StreamsController],
  providers: [SseConnections, StreamSocketServer],
  exports: [SseConnections, StreamSocketServer],
})
export class StreamsModule {}
