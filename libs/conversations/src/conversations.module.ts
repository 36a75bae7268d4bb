import { Module } from '@nestjs/common';
import { ConversationsRepository } from './conversations.repository.js';
import { ConversationsService } from './conversations.service.js';

/**
 * Persistent conversations (docs/conversations.md): contexts, their history, per-agent state. Needs the global
 * DatabaseModule and ConfigModule. The HTTP routes, the sweep job and the answer recorder are the API's.
 */
@Module({ providers: [ConversationsRepository, ConversationsService], exports: [ConversationsService] })
export class ConversationsModule {}
