/**
 * The default branch of an exhaustive switch over a union: it does not compile while a member is unhandled, and
 * throws if a value outside the union arrives at run time anyway (a row written by a newer version, say).
 */
export function assertUnreachable(value: never, what = 'value'): never {
  throw new Error(`Unhandled ${what}: ${JSON.stringify(value)}`);
}
