/**
 * What a finished run answers: the definition's `output:` mapping rendered over the step outputs, or else
 * the outputs of its sink steps keyed by step key.
 */
import { renderTemplate, type JsonValue } from '#core';
import type { CompiledDefinition } from './compiled-definition.js';

export function runOutput(definition: CompiledDefinition, runInput: unknown, outputs: Map<string, unknown>): JsonValue {
  if (definition.spec.output !== undefined) {
    const steps: Record<string, { output: JsonValue }> = {};
    for (const [key, output] of outputs) steps[key] = { output: (output ?? null) as JsonValue };
    return renderTemplate(definition.spec.output, { input: (runInput ?? null) as JsonValue, steps });
  }
  return Object.fromEntries(definition.sinks.map((key) => [key, (outputs.get(key) ?? null) as JsonValue]));
}
