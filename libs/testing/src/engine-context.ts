import { Module, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AgentsModule } from '#agents';
import { ConfigModule, type AppConfig } from '#config';
import { EngineModule } from '#engine';
import { EventsModule } from '#events';
import { DatabaseModule } from '#persistence';

@Module({})
class EngineTestModule {}

/**
 * The engine's providers without HTTP, webhooks or a running worker (role `api`): for specs that drive the claimer,
 * the result applier and the approval service by hand, step by step. Get providers with `get(X, { strict: false })`.
 */
export async function openEngineContext(config: AppConfig): Promise<INestApplicationContext> {
  const context = await NestFactory.createApplicationContext(
    {
      module: EngineTestModule,
      imports: [ConfigModule.forRoot({ ...config, role: 'api' }), DatabaseModule.forRoot(config), EventsModule, AgentsModule, EngineModule],
    },
    { logger: false },
  );
  await context.init();
  return context;
}
