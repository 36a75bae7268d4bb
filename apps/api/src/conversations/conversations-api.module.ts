import { Module } from '@nestjs/common';
import { ConversationsModule } from '#conversations';
import { EngineModule } from '#engine';
import { ConversationAnswers } from './conversation-answers.js';
import { ConversationJob } from './conversation.job.js';
import { ConversationsController } from './conversations.controller.js';

/**
 * Persistent conversations on the API (docs/conversations.md): the /conversations routes, the agent-answer recorder
 * (used by the A2A server right after a blocking send) and the job that records the rest and ages contexts.
 */
@Module({
  imports: [ConversationsModule, EngineModule],
  controllers: [ConversationsController],
  providers: [ConversationAnswers, ConversationJob],
  exports: [ConversationsModule, ConversationAnswers],
})
export class ConversationsApiModule {}
