import { Phase1Schema1763800000000 } from './1763800000000-Phase1Schema.js';

/** Every migration, in order. Listed explicitly so sources (tests) and dist/ (CLI, API) load the same set. */
export const MIGRATIONS = [Phase1Schema1763800000000];
