import { Global, Module } from '@nestjs/common';
import { AgentBreakers } from './agent-breakers.js';

/** One set of breakers per process (global: the engine gates calls with it, the registry shows its states). */
@Global()
@Module({ providers: [AgentBreakers], exports: [AgentBreakers] })
export class BreakersModule {}
