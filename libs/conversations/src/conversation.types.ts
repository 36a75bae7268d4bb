/** Row types of the conversation tables (migration 1764330000000-Conversations), shared by the repository and its callers. */
import type { JsonValue } from '#core';

export const CONVERSATION_STATES = ['active', 'idle', 'expired'] as const;
export type ConversationState = (typeof CONVERSATION_STATES)[number];

export const MESSAGE_ROLES = ['user', 'agent'] as const;
export type MessageRole = (typeof MESSAGE_ROLES)[number];

export interface Conversation {
  id: string;
  organizationId: string;
  contextId: string;
  state: ConversationState;
  /** Seq of the last message of the history (0: none yet); the history is gapless 1..messageCount. */
  messageCount: number;
  createdAt: Date;
  lastActivityAt: Date;
  idleAt: Date | null;
  expiresAt: Date;
  expiredAt: Date | null;
}

/** One entry of a context's history. Parts are in the A2A v1.0 JSON form (`{ "text": ... }`, `{ "data": ... }`). */
export interface TaskMessage {
  seq: number;
  role: MessageRole;
  parts: JsonValue[];
  /** The run (A2A task) the message belongs to; null once that run was deleted. */
  taskId: string | null;
  messageId: string | null;
  createdAt: Date;
}

export interface NewTaskMessage {
  role: MessageRole;
  parts: JsonValue[];
  runId: string | null;
  /** A repeated message id within the context is ignored (A2A retries). */
  messageId: string | null;
}

export interface AgentState {
  agentSlug: string;
  state: JsonValue;
  /** 0: never written. Each write adds 1. */
  version: number;
  updatedAt: Date | null;
}

/** A run of a conversation whose current answer is not yet in the history. */
export interface UnansweredRun {
  runId: string;
  organizationId: string;
  conversationId: string;
  contextId: string;
}
