/**
 * Builders for the official SDK's in-memory protocol objects (ts-proto form: oneofs as `{ $case, value }`, enums as
 * numbers). The A2A server builds these and lets the SDK's codecs (`Task.toJSON`, `StreamResponse.toJSON`, ...)
 * write the protocol's JSON form, so the wire shape is the SDK's and never hand-rolled.
 */
import { Role, type Artifact, type Message, type Part } from '@a2a-js/sdk';
import { randomUUID } from 'node:crypto';
import type { JsonValue } from '#core';

export function protocolTextPart(text: string): Part {
  return { content: { $case: 'text', value: text }, metadata: undefined, filename: '', mediaType: 'text/plain' };
}

export function protocolDataPart(data: JsonValue): Part {
  return { content: { $case: 'data', value: data }, metadata: undefined, filename: '', mediaType: 'application/json' };
}

export function protocolAgentMessage(parts: Part[], taskId: string, contextId: string): Message {
  return {
    messageId: randomUUID(),
    contextId,
    taskId,
    role: Role.ROLE_AGENT,
    parts,
    metadata: undefined,
    extensions: [],
    referenceTaskIds: [],
  };
}

export function protocolArtifact(artifactId: string, parts: Part[]): Artifact {
  return { artifactId, name: artifactId, description: '', parts, metadata: undefined, extensions: [] };
}

/** The first data part of a protocol message, if any. */
export function firstDataPart(message: Message): JsonValue | undefined {
  for (const part of message.parts) if (part.content?.$case === 'data') return (part.content.value ?? null) as JsonValue;
  return undefined;
}

/** The text of a protocol message's text parts, joined by newlines; null when it has none. */
export function textOf(message: Message): string | null {
  const texts = message.parts.flatMap((p) => (p.content?.$case === 'text' ? [p.content.value] : []));
  return texts.length > 0 ? texts.join('\n') : null;
}
