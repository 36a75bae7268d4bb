import { Phase1Schema1763800000000 } from './1763800000000-Phase1Schema.js';
import { Phase2Engine1763900000000 } from './1763900000000-Phase2Engine.js';
import { Phase3Webhooks1764000000000 } from './1764000000000-Phase3Webhooks.js';
import { Phase3Approvals1764000001000 } from './1764000001000-Phase3Approvals.js';
import { Phase4WebhookWakeups1764100000000 } from './1764100000000-Phase4WebhookWakeups.js';
import { Phase4StepUsage1764200000000 } from './1764200000000-Phase4StepUsage.js';
import { SqlToolKpiDemo1764210000000 } from './1764210000000-SqlToolKpiDemo.js';
import { DeliverablesAssets1764210001000 } from './1764210001000-DeliverablesAssets.js';
import { AgentsRegistry1764220000000 } from './1764220000000-AgentsRegistry.js';
import { A2aTasks1764230000000 } from './1764230000000-A2aTasks.js';
import { A2aPushTargets1764230001000 } from './1764230001000-A2aPushTargets.js';
import { ObservabilityIndexes1764250000000 } from './1764250000000-ObservabilityIndexes.js';
import { EventRetentionIndex1764250001000 } from './1764250001000-EventRetentionIndex.js';
import { SubOrchestrations1764300000000 } from './1764300000000-SubOrchestrations.js';
import { RunBudgets1764300001000 } from './1764300001000-RunBudgets.js';
import { RunTraceContext1764310000000 } from './1764310000000-RunTraceContext.js';
import { Conversations1764330000000 } from './1764330000000-Conversations.js';
import { RunContext1764340000000 } from './1764340000000-RunContext.js';
import { GroupSteps1764400000000 } from './1764400000000-GroupSteps.js';
import { StepCache1764410000000 } from './1764410000000-StepCache.js';
import { OpenBreakersIndex1764420000000 } from './1764420000000-OpenBreakersIndex.js';
import { RunScopedOrganizationKeys1764430000000 } from './1764430000000-RunScopedOrganizationKeys.js';

/** Every migration, in order. Listed explicitly so sources (tests) and dist/ (CLI, API) load the same set. */
export const MIGRATIONS = [
  Phase1Schema1763800000000,
  Phase2Engine1763900000000,
  Phase3Webhooks1764000000000,
  Phase3Approvals1764000001000,
  Phase4WebhookWakeups1764100000000,
  Phase4StepUsage1764200000000,
  SqlToolKpiDemo1764210000000,
  DeliverablesAssets1764210001000,
  AgentsRegistry1764220000000,
  A2aTasks1764230000000,
  A2aPushTargets1764230001000,
  ObservabilityIndexes1764250000000,
  EventRetentionIndex1764250001000,
  SubOrchestrations1764300000000,
  RunBudgets1764300001000,
  RunTraceContext1764310000000,
  Conversations1764330000000,
  RunContext1764340000000,
  GroupSteps1764400000000,
  StepCache1764410000000,
  OpenBreakersIndex1764420000000,
  RunScopedOrganizationKeys1764430000000,
];
